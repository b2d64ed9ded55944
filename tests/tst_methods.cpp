// Every trainable PEFT method beside P-Tuning v2 (LoRA, IA3, prompt tuning with its three initialisations,
// P-tuning with an MLP or LSTM encoder, bottleneck adapters in both placements) and the two baselines (full fine-tuning, the linear probe) learns on the
// built-in data: the loss over the training rows falls. LoRA, IA3 and the adapters start as the base model exactly; the
// parameter counts follow the methods' formulas; the frozen backbone stays bit-identical except under full
// fine-tuning.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/engine/builtin.h"
#include "core/engine/encoder.h"
#include "core/engine/method_options.h"
#include "core/engine/methods.h"
#include "core/engine/trainer.h"
#include "core/io/data.h"
#include "core/text/tokenizer.h"

using namespace ptune;

namespace {

struct Fixture {
    std::unique_ptr<EncoderClassifier> model;
    std::unique_ptr<Tokenizer> tok;
    TokenizedData data;
};

Fixture make_fixture() {
    Fixture f;
    const std::string dir = builtin_dir();
    f.model = EncoderClassifier::load(dir + "/model", 2, 7);
    f.tok = Tokenizer::from_dir(dir + "/model");
    DataOptions o;
    o.max_rows = 64;
    Dataset d = load_dataset(dir + "/data/train.tsv", o);
    f.data = tokenize(d, *f.tok, 48);
    return f;
}

at::Tensor backbone_checksum(const EncoderClassifier& m) {
    std::vector<at::Tensor> parts;
    for (auto& [n, t] : m.backbone_parameters()) parts.push_back(t.detach().reshape({-1}).to(at::kDouble));
    return at::cat(parts);
}

TrainOptions options(double lr, int64_t steps) {
    TrainOptions o;
    o.lr = lr;
    o.steps = steps;
    o.epochs = 0;
    o.batch_size = 16;
    o.max_len = 48;
    o.schedule = "constant";
    o.seed = 3;
    o.threads = 2;
    o.keep_best = false;
    return o;
}

// Every step's loss and every evaluation's loss of a run.
struct Recorder : TrainEvents {
    std::vector<double> losses, eval_losses;
    void on_step(const StepEvent& e) override { losses.push_back(e.loss); }
    void on_eval(const EvalEvent& e) override { eval_losses.push_back(e.metrics.at("loss")); }
};

// A copy of the built-in model with dropout 0.1 in the encoder and the head (the built-in one has none).
std::string model_with_dropout(const QTemporaryDir& tmp) {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(builtin_dir()) / "model", dst = fs::path(tmp.path().toStdString()) / "model";
    fs::create_directories(dst);
    for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dst / e.path().filename());
    std::ifstream in(dst / "config.json");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string cfg = ss.str();
    for (const char* key : {"\"hidden_dropout_prob\": 0.0", "\"attention_probs_dropout_prob\": 0.0"}) {
        const size_t at = cfg.find(key);
        if (at == std::string::npos) qFatal("config.json has no %s", key);
        cfg.replace(at, std::string(key).size(), std::string(key).substr(0, std::string(key).size() - 3) + "0.1");
    }
    std::ofstream(dst / "config.json") << cfg;
    return dst.string();
}

}  // namespace

class TstMethods : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { set_threads(2); }

    void lossFalls_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<double>("lr");
        for (auto [m, lr] : std::initializer_list<std::pair<const char*, double>>{
                 {"lora", 5e-3}, {"ia3", 5e-2}, {"prompt-random", 5e-2}, {"prompt-vocab", 2e-2}, {"prompt-text", 5e-2},
                 {"ptuning-mlp", 3e-2}, {"ptuning-lstm", 3e-2}, {"adapter-houlsby", 5e-3}, {"adapter-pfeiffer", 5e-3},
                 {"full", 1e-3}, {"head", 5e-2}})
            QTest::newRow(m) << QString(m) << lr;
    }
    void lossFalls() {
        QFETCH(QString, method);
        QFETCH(double, lr);
        Fixture f = make_fixture();
        const ModelConfig& cfg = f.model->config();
        std::unique_ptr<DeltaMethod> m;
        const std::string k = method.toStdString();
        if (k.rfind("lora", 0) == 0) {
            m = make_lora(cfg, LoraOptions{}, 5);
        } else if (k == "ia3") {
            m = make_ia3(cfg, Ia3Options{});
        } else if (k.rfind("prompt-", 0) == 0) {
            PromptTuningOptions o;
            o.prompt_len = 8;
            o.init = k == "prompt-random" ? PromptInit2::Random : k == "prompt-vocab" ? PromptInit2::SampleVocab : PromptInit2::Text;
            if (o.init == PromptInit2::Text) o.init_token_ids = f.tok->encode("classify the sentiment", std::nullopt, false, 0).ids;
            m = make_prompt_tuning(*f.model, o, 5);
        } else if (k.rfind("ptuning-", 0) == 0) {
            PTuningOptions o;
            o.prompt_len = 8;
            o.encoder = k == "ptuning-mlp" ? "mlp" : "lstm";
            m = make_ptuning(cfg, o, 5);
        } else if (k.rfind("adapter-", 0) == 0) {
            AdapterOptions o;
            if (k == "adapter-pfeiffer") o.sites = {Site::Output};
            m = make_adapter(cfg, o, 5);
        } else if (k == "full") {
            f.model->set_backbone_trainable(true);
        }
        const at::Tensor before_backbone = backbone_checksum(*f.model);
        PromptTrainer tr(*f.model, m.get(), options(lr, 60), f.tok->pad_id());
        const double before = tr.evaluate(f.data).at("loss");
        TrainResult r = tr.train(f.data, nullptr);
        QCOMPARE(r.status, std::string("completed"));
        QCOMPARE(r.steps_done, int64_t(60));
        const double after = tr.evaluate(f.data).at("loss");
        qInfo("%s: loss over the 64 training rows %.4f -> %.4f", k.c_str(), before, after);
        QVERIFY2(after < 0.9 * before, qPrintable(QString("%1 -> %2").arg(before).arg(after)));
        const bool same_backbone = at::equal(before_backbone, backbone_checksum(*f.model));
        QCOMPARE(same_backbone, k != "full");
    }

    void loraAndIa3StartAsTheBaseModel() {
        Fixture f = make_fixture();
        at::NoGradGuard g;
        Batch b = make_batch({f.data.ids[0], f.data.ids[1], f.data.ids[2]}, f.tok->pad_id());
        at::Tensor base = f.model->forward(b, Adaptation{}, false);
        for (auto& m : {make_lora(f.model->config(), LoraOptions{}, 1), make_ia3(f.model->config(), Ia3Options{}),
                        make_adapter(f.model->config(), AdapterOptions{}, 1)}) {
            QVERIFY2(at::equal(f.model->forward(b, m->adaptation(false), false), base), m->kind().c_str());
        }
        // Prompt tuning does change the outcome from the start (the head reads the first virtual token).
        auto p = make_prompt_tuning(*f.model, PromptTuningOptions{}, 1);
        QVERIFY(!at::equal(f.model->forward(b, p->adaptation(false), false), base));
    }

    void parameterCounts() {
        Fixture f = make_fixture();
        const ModelConfig& c = f.model->config();
        const int64_t H = c.hidden_size, I = c.intermediate_size, L = c.num_layers;
        QCOMPARE(make_lora(c, LoraOptions{}, 1)->param_count(), L * 2 * 8 * (H + H));
        LoraOptions all;
        all.r = 4;
        all.sites = {Site::Query, Site::Key, Site::Value, Site::AttnOut, Site::Intermediate, Site::Output};
        QCOMPARE(make_lora(c, all, 1)->param_count(), L * 4 * (4 * 2 * H + (H + I) + (I + H)));
        QCOMPARE(make_ia3(c, Ia3Options{})->param_count(), L * (H + H + H + I));
        PromptTuningOptions p;
        p.prompt_len = 20;
        QCOMPARE(make_prompt_tuning(*f.model, p, 1)->param_count(), 20 * H);
        PTuningOptions t;
        t.prompt_len = 20;
        t.hidden = 32;
        QCOMPARE(make_ptuning(c, t, 1)->param_count(), 20 * H + (H * 32 + 32) + (32 * 32 + 32) + (32 * H + H));
        t.encoder = "lstm";
        // Bidirectional 2-layer LSTM: 4 gates x (input + hidden weights, two biases) per direction and layer.
        const int64_t lstm = 2 * (4 * 32 * (H + 32) + 2 * 4 * 32) + 2 * (4 * 32 * (2 * 32 + 32) + 2 * 4 * 32);
        QCOMPARE(make_ptuning(c, t, 1)->param_count(), 20 * H + lstm + (64 * 64 + 64) + (64 * H + H));

        Ia3Options bad;
        bad.sites = {Site::Key};
        bad.feedforward = {Site::Output};
        QVERIFY_THROWS_EXCEPTION(Error, make_ia3(c, bad));

        // Bottleneck adapters: per place, down (H x m + m) and up (m x H + H); m = H / 16 by default.
        const int64_t m = H / 16;
        QCOMPARE(make_adapter(c, AdapterOptions{}, 1)->param_count(), L * 2 * (H * m + m + m * H + H));
        AdapterOptions pf;
        pf.size = 12;
        pf.sites = {Site::Output};
        QCOMPARE(make_adapter(c, pf, 1)->param_count(), L * (H * 12 + 12 + 12 * H + H));
        // The setup form's formula (no model loaded) gives the same numbers.
        DeltaOptions d;
        d.adapter_size = 12;
        d.adapter_placement = "pfeiffer";
        QCOMPARE(method_param_count("adapter", PrefixOptions{}, d, H, I, (int)L, H, 0), L * (H * 12 + 12 + 12 * H + H));
        d.adapter_size = 0;
        d.adapter_placement = "houlsby";
        QCOMPARE(method_param_count("adapter", PrefixOptions{}, d, H, I, (int)L, H, 0), L * 2 * (H * m + m + m * H + H));
        AdapterOptions wrong;
        wrong.sites = {Site::Query};   // not a sublayer's output
        QVERIFY_THROWS_EXCEPTION(Error, make_adapter(c, wrong, 1));
        wrong.sites = {Site::Output};
        wrong.act = "softmax";
        QVERIFY_THROWS_EXCEPTION(Error, make_adapter(c, wrong, 1));
    }

    // A bottleneck adapter adds up(act(down(y))) to a sublayer's output y = W x + b (after its dropout: the
    // encoder applies it there, the linear layer itself is unchanged), for each activation; it cannot be merged
    // into the weights (the activation is not linear), and merge says so.
    void adapterComputesItsFormula() {
        at::manual_seed(11);
        Linear lin{at::randn({6, 5}), at::randn({6})};
        const at::Tensor x = at::randn({3, 4, 5});
        LinearDelta d;
        d.adapter_down = {at::randn({2, 6}), at::randn({2})};
        d.adapter_up = {at::randn({6, 2}), at::randn({6})};
        const at::Tensor y = at::matmul(x, lin.weight.t()) + lin.bias;
        const at::Tensor h = at::matmul(y, d.adapter_down.weight.t()) + d.adapter_down.bias;
        for (const char* act : {"relu", "gelu", "tanh", "swish"}) {
            d.adapter_act = act;
            const std::string a = act;
            const at::Tensor g = a == "relu" ? at::relu(h) : a == "gelu" ? at::gelu(h) : a == "tanh" ? at::tanh(h) : h * at::sigmoid(h);
            const at::Tensor want = y + at::matmul(g, d.adapter_up.weight.t()) + d.adapter_up.bias;
            const double diff = (d.adapt(d.apply(lin, x, false)) - want).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, act);
            QVERIFY(at::allclose(d.apply(lin, x, false), y));
        }
        Fixture f = make_fixture();
        auto m = make_adapter(f.model->config(), AdapterOptions{}, 1);
        QVERIFY_THROWS_EXCEPTION(Error, f.model->merge(m->adaptation(false)));
    }

    // The linear probe runs its frozen encoder once per row (training rows when their first batch comes,
    // validation rows at the first evaluation), and its cached features give the losses that recomputing them
    // every step gives: the features are the encoder's in eval mode either way, and the head's own dropout draws
    // the same masks. On a model with dropout, so that a difference would show. Full fine-tuning is not cached.
    void probeEncodesEachRowOnce() {
        QTemporaryDir tmp;
        const std::string dir = model_with_dropout(tmp);
        auto tok = Tokenizer::from_dir(dir);
        DataOptions o;
        o.max_rows = 60;   // batches of 16, 16, 16 and 12
        const TokenizedData train = tokenize(load_dataset(builtin_dir() + "/data/train.tsv", o), *tok, 48);
        o.max_rows = 40;
        const TokenizedData valid = tokenize(load_dataset(builtin_dir() + "/data/valid.tsv", o), *tok, 48);
        TrainOptions opt = options(5e-2, 0);
        opt.epochs = 3;    // 12 steps, an evaluation at each epoch's end
        opt.keep_best = false;

        struct Outcome {
            Recorder rec;
            int64_t encoded = 0;
            std::vector<at::Tensor> head;
        };
        auto run = [&](bool cache, bool shuffle, Outcome& out) {
            auto model = EncoderClassifier::load(dir, 2, 7);
            QVERIFY(model->config().hidden_dropout > 0);
            TrainOptions o = opt;
            o.shuffle = shuffle;
            PromptTrainer tr(*model, static_cast<DeltaMethod*>(nullptr), o, tok->pad_id(), &out.rec);
            QVERIFY(tr.is_probe());
            tr.set_feature_cache(cache);
            const int64_t before = model->encoded_rows();
            TrainResult r = tr.train(train, &valid);
            QCOMPARE(r.steps_done, int64_t(12));
            out.encoded = model->encoded_rows() - before;
            for (auto& [n, t] : model->head_parameters()) out.head.push_back(t.detach().clone());
        };
        // In file order every epoch has the same batches, so recomputing gives the very same features: the runs are
        // equal to the bit.
        Outcome cached, recomputed;
        run(true, false, cached);
        run(false, false, recomputed);
        QCOMPARE(cached.encoded, int64_t(60 + 40));
        QCOMPARE(recomputed.encoded, int64_t(3 * 60 + 3 * 40));
        QCOMPARE(cached.rec.losses.size(), size_t(12));
        QCOMPARE(cached.rec.losses, recomputed.rec.losses);
        QCOMPARE(cached.rec.eval_losses.size(), size_t(3));
        QCOMPARE(cached.rec.eval_losses, recomputed.rec.eval_losses);
        QCOMPARE(cached.head.size(), recomputed.head.size());
        for (size_t i = 0; i < cached.head.size(); ++i) QVERIFY(at::equal(cached.head[i], recomputed.head[i]));
        QVERIFY(cached.rec.losses.back() < cached.rec.losses.front());   // the head learned

        // Shuffled, the first epoch is equal to the bit (the features are the batch's own); later epochs read each
        // row's features from the cache, where recomputing them in other batches (other padding) rounds differently
        // in the last bits: equal to 1e-5.
        Outcome cached_s, recomputed_s;
        run(true, true, cached_s);
        run(false, true, recomputed_s);
        QCOMPARE(cached_s.encoded, int64_t(60 + 40));
        QCOMPARE(recomputed_s.encoded, int64_t(3 * 60 + 3 * 40));
        QCOMPARE(cached_s.rec.losses.size(), size_t(12));
        QCOMPARE(recomputed_s.rec.losses.size(), size_t(12));
        QVERIFY(cached_s.rec.losses != cached.rec.losses);   // the order did change
        for (size_t i = 0; i < 12; ++i) {
            const double a = cached_s.rec.losses[i], b = recomputed_s.rec.losses[i];
            if (i < 4) QCOMPARE(a, b);
            QVERIFY2(std::abs(a - b) <= 1e-5, qPrintable(QString("step %1: %2 vs %3").arg(i + 1).arg(a, 0, 'g', 17).arg(b, 0, 'g', 17)));
        }

        // Full fine-tuning trains the encoder: every step runs it.
        auto model = EncoderClassifier::load(dir, 2, 7);
        model->set_backbone_trainable(true);
        opt.epochs = 0;
        opt.steps = 2;
        PromptTrainer full(*model, static_cast<DeltaMethod*>(nullptr), opt, tok->pad_id());
        QVERIFY(!full.is_probe());
        const int64_t before = model->encoded_rows();
        full.train(train, nullptr);
        QCOMPARE(model->encoded_rows() - before, int64_t(2 * 16));
    }

    // The best state of a method is kept and restored like the prompts'.
    void bestStateRestoresMethodTensors() {
        Fixture f = make_fixture();
        auto m = make_lora(f.model->config(), LoraOptions{}, 2);
        TrainOptions o = options(2e-2, 20);
        o.keep_best = true;
        o.eval_every = 5;
        PromptTrainer tr(*f.model, m.get(), o, f.tok->pad_id());
        TrainResult r = tr.train(f.data, &f.data);
        QVERIFY(r.best_step > 0);
        bool saw_method = false;
        for (auto& [n, t] : tr.best_state())
            if (n.rfind("method.", 0) == 0) {
                saw_method = true;
                for (auto& [pn, pt] : m->parameters())
                    if ("method." + pn == n) QVERIFY(at::equal(pt.detach().to(at::kCPU), t));
            }
        QVERIFY(saw_method);
        QCOMPARE(tr.evaluate(f.data).at("loss"), r.best_metrics.at("loss"));
    }
};

QTEST_MAIN(TstMethods)
#include "tst_methods.moc"
