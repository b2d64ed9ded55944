// Base-model logits of ptune's BERT and RoBERTa against transformers (tests/fixtures/*/expected.json,
// computed by transformers 5.17 with one text at a time, no padding), and model loading rules.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>

#include "core/engine/encoder.h"
#include "core/engine/tensor_io.h"
#include "core/io/json_util.h"
#include "distilbert_fixture.h"

using namespace ptune;
namespace fs = std::filesystem;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

static double max_abs_diff(const at::Tensor& a, const std::vector<float>& b) {
    auto t = at::tensor(b).view(a.sizes());
    return (a.detach().to(at::kFloat) - t).abs().max().item<double>();
}

class TstModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void baseLogits_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("bert") << "bert";
        QTest::newRow("roberta") << "roberta";
    }
    void baseLogits() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        auto model = EncoderClassifier::load(fixture(a + "/model"));
        QCOMPARE(model->num_labels(), 2);
        QVERIFY(model->head_from_checkpoint());
        const auto& ids = exp["input_ids"];
        const auto& logits = exp["logits_base"];
        QCOMPARE(ids.size(), logits.size());
        QCOMPARE(ids.size(), size_t(10));  // accents, CJK, emoji, control chars, empty, 600 chars, ...
        at::NoGradGuard g;
        double worst = 0;
        for (size_t i = 0; i < ids.size(); ++i) {
            Batch b = make_batch({ids[i].get<std::vector<int64_t>>()}, model->config().pad_token_id);
            at::Tensor out = model->forward(b, nullptr, false);
            worst = std::max(worst, max_abs_diff(out[0], logits[i].get<std::vector<float>>()));
        }
        qInfo("%s: max |logit difference| over %zu texts = %.3g", a.c_str(), ids.size(), worst);
        QVERIFY2(worst < 1e-4, qPrintable(QString("max diff %1").arg(worst)));
    }

    // A right-padded batch gives each row the logits it gets alone (the mask and, for RoBERTa, position ids).
    void paddedBatchEqualsSingles_data() { baseLogits_data(); }
    void paddedBatchEqualsSingles() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        auto model = EncoderClassifier::load(fixture(a + "/model"));
        std::vector<std::vector<int64_t>> ids;
        for (size_t i = 0; i < 10; ++i) ids.push_back(exp["input_ids"][i].get<std::vector<int64_t>>());
        at::NoGradGuard g;
        at::Tensor out = model->forward(make_batch(ids, model->config().pad_token_id), nullptr, false);
        for (size_t i = 0; i < ids.size(); ++i)
            QVERIFY(max_abs_diff(out[i], exp["logits_base"][i].get<std::vector<float>>()) < 1e-4);
    }

    // The two attention kernels (manual: matmul/softmax/matmul; fused: at::scaled_dot_product_attention on
    // LibTorch 2.x) give the same logits, on a padded batch with a deep prompt in every other layer.
    void attentionKernelsAgree_data() { baseLogits_data(); }
    void attentionKernelsAgree() {
        if (!fused_attention_available()) QSKIP("LibTorch 1.x has no fused attention (the Debian 13 leg runs this)");
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        auto model = EncoderClassifier::load(fixture(a + "/model"));
        const auto& cfg = model->config();
        std::vector<std::vector<int64_t>> ids;  // the texts that fit the position table with the prompt
        for (size_t i = 0; i < 10; ++i) {
            auto t = exp["input_ids"][i].get<std::vector<int64_t>>();
            if ((int64_t)t.size() <= cfg.max_input_len(5)) ids.push_back(t);
        }
        QVERIFY(ids.size() >= 8);
        Batch b = make_batch(ids, cfg.pad_token_id);
        at::manual_seed(3);
        PrefixKV prefix;
        prefix.length = 5;
        for (int64_t l = 0; l < cfg.num_layers; ++l) {
            const bool on = l % 2 == 0;
            prefix.key.push_back(on ? at::randn({1, cfg.num_heads, 5, cfg.head_dim()}) : at::Tensor());
            prefix.value.push_back(on ? at::randn({1, cfg.num_heads, 5, cfg.head_dim()}) : at::Tensor());
        }
        at::NoGradGuard g;
        model->set_attention_kernel(AttentionKernel::Manual);
        at::Tensor manual = model->forward(b, &prefix, false), manual_base = model->forward(b, nullptr, false);
        model->set_attention_kernel(AttentionKernel::Fused);
        at::Tensor fused = model->forward(b, &prefix, false), fused_base = model->forward(b, nullptr, false);
        const double d = (manual - fused).abs().max().item<double>();
        const double d_base = (manual_base - fused_base).abs().max().item<double>();
        qInfo("%s: max |manual - fused| = %.3g with the prompt, %.3g without", a.c_str(), d, d_base);
        QVERIFY2(d < 1e-5, qPrintable(QString::number(d)));
        QVERIFY2(d_base < 1e-5, qPrintable(QString::number(d_base)));
        // The prompt changes the logits, so the comparison above covers the prefixed keys.
        QVERIFY((fused - fused_base).abs().max().item<double>() > 1e-3);
    }

    // Masked keys get the lowest finite value of the compute dtype: float's lowest becomes -inf in bfloat16 and
    // half, and a row whose keys are all masked would then turn into NaN.
    void maskValueStaysFinite() {
        for (auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
            at::Tensor m = at::full({1}, mask_lowest(dt), at::TensorOptions().dtype(dt));
            QVERIFY2(std::isfinite(m.to(at::kDouble).item<double>()), c10::toString(dt));
            QVERIFY(m.to(at::kDouble).item<double>() < -6e4);
        }
        QCOMPARE(mask_lowest(at::kFloat), (double)std::numeric_limits<float>::lowest());
        QCOMPARE(mask_lowest(at::kHalf), -65504.0);
    }

    void attentionKernelNames() {
        QVERIFY(parse_attention_kernel("manual", "x") == AttentionKernel::Manual);
        try {
            parse_attention_kernel("flash", "--attention");
            QFAIL("accepted an unknown kernel");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("--attention") != std::string::npos, e.what());
        }
        if (fused_attention_available()) {
            QVERIFY(parse_attention_kernel("fused", "x") == AttentionKernel::Fused);
        } else {
            QVERIFY_EXCEPTION_THROWN(parse_attention_kernel("fused", "x"), Error);
        }
    }

    // Checkpoints without the "bert." prefix and with legacy LayerNorm gamma/beta load to the same model.
    void legacyNames() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        fs::copy_file(fixture("bert/model/config.json"), d + "/config.json");
        auto tensors = load_all(fixture("bert/model/model.safetensors"));
        std::vector<std::pair<std::string, at::Tensor>> renamed;
        for (auto& [n, t] : tensors) {
            std::string k = n.rfind("bert.", 0) == 0 ? n.substr(5) : n;
            if (k.find("LayerNorm.weight") != std::string::npos) k.replace(k.find("weight"), 6, "gamma");
            if (k.find("LayerNorm.bias") != std::string::npos) k.replace(k.find("bias"), 4, "beta");
            renamed.push_back({k, t});
        }
        save_tensors(d + "/model.safetensors", renamed);
        auto m1 = EncoderClassifier::load(fixture("bert/model"));
        auto m2 = EncoderClassifier::load(d);
        json exp = read_json_file(fixture("bert/expected.json"));
        at::NoGradGuard g;
        Batch b = make_batch({exp["input_ids"][7].get<std::vector<int64_t>>()}, 0);
        QVERIFY(at::allclose(m1->forward(b, nullptr, false), m2->forward(b, nullptr, false), 0, 0));
    }

    // An ELECTRA checkpoint (model_type electra, "electra." names, no pooler, a dense+gelu+out_proj head)
    // computes the same encoder states as a BERT with the same weights.
    void electraCheckpoint() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        json c = read_json_file(fixture("bert/model/config.json"));
        c["model_type"] = "electra";
        c["embedding_size"] = c["hidden_size"];
        write_json_file(d + "/config.json", c);
        auto tensors = load_all(fixture("bert/model/model.safetensors"));
        std::vector<std::pair<std::string, at::Tensor>> renamed;
        for (auto& [n, t] : tensors) {
            if (n.rfind("bert.pooler", 0) == 0 || n.rfind("classifier", 0) == 0) continue;
            renamed.push_back({"electra." + n.substr(5), t});
        }
        renamed.push_back({"classifier.dense.weight", at::randn({64, 64}) * 0.1});
        renamed.push_back({"classifier.dense.bias", at::zeros({64})});
        renamed.push_back({"classifier.out_proj.weight", at::randn({2, 64}) * 0.1});
        renamed.push_back({"classifier.out_proj.bias", at::zeros({2})});
        save_tensors(d + "/model.safetensors", renamed);
        auto e = EncoderClassifier::load(d);
        auto b = EncoderClassifier::load(fixture("bert/model"));
        QCOMPARE(e->config().arch_name(), std::string("ELECTRA"));
        QVERIFY(e->head_from_checkpoint());
        json exp = read_json_file(fixture("bert/expected.json"));
        at::NoGradGuard g;
        Batch batch = make_batch({exp["input_ids"][7].get<std::vector<int64_t>>()}, 0);
        at::Tensor he = e->encode(batch, nullptr, false), hb = b->encode(batch, nullptr, false);
        QVERIFY(at::allclose(he, hb, 0, 1e-6));
        // ELECTRA's head: out_proj(gelu(dense(h[CLS])))
        auto hp = e->head_parameters();
        at::Tensor x = at::gelu(at::linear(he.select(1, 0), hp[0].second, hp[1].second));
        QVERIFY(at::allclose(e->forward(batch, nullptr, false), at::linear(x, hp[2].second, hp[3].second), 0, 1e-6));
    }

    // DistilBERT, a family that is one file: its checkpoint's names and config keys, no token types, its
    // pre_classifier/ReLU head. Made from the reference BERT (distilbert_fixture.h), its last hidden states equal
    // BERT's on every reference text, without and with a prefix (the real tokens' positions follow it in both).
    void distilbertCheckpoint() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString() + "/distilbert";
        make_distilbert_from_bert(fixture("bert/model"), d);
        auto m = EncoderClassifier::load(d);
        auto b = EncoderClassifier::load(fixture("bert/model"));
        const ModelConfig& c = m->config();
        QCOMPARE(c.arch_name(), std::string("DistilBERT"));
        QCOMPARE(c.hidden_size, int64_t(64));
        QCOMPARE(c.num_layers, int64_t(2));
        QCOMPARE(c.intermediate_size, int64_t(128));
        QCOMPARE(c.type_vocab_size, int64_t(0));
        QCOMPARE(c.classifier_dropout.value_or(-1), 0.2);
        QVERIFY(m->head_from_checkpoint());
        QCOMPARE(m->num_labels(), int64_t(2));
        json exp = read_json_file(fixture("bert/expected.json"));
        at::NoGradGuard g;
        PrefixKV prefix;
        prefix.length = 3;
        at::manual_seed(5);
        for (int l = 0; l < 2; ++l) {
            prefix.key.push_back(at::randn({1, 4, 3, 16}));
            prefix.value.push_back(at::randn({1, 4, 3, 16}));
        }
        double worst = 0;
        for (const auto& ids : exp["input_ids"]) {
            Batch batch = make_batch({ids.get<std::vector<int64_t>>()}, 0);
            worst = std::max(worst, (m->encode(batch, nullptr, false) - b->encode(batch, nullptr, false)).abs().max().item<double>());
            if (ids.size() + 3 <= 128)   // the position table holds the prefix and the text
                worst = std::max(worst, (m->encode(batch, &prefix, false) - b->encode(batch, &prefix, false)).abs().max().item<double>());
        }
        QVERIFY2(worst < 1e-5, std::to_string(worst).c_str());
        // The head: classifier(dropout(relu(pre_classifier(h[CLS])))), no pooler.
        Batch batch = make_batch({exp["input_ids"][3].get<std::vector<int64_t>>()}, 0);
        auto hp = m->head_parameters();
        QCOMPARE(hp[0].first, std::string("pre_classifier.weight"));
        QCOMPARE(hp[2].first, std::string("classifier.weight"));
        at::Tensor x = at::relu(at::linear(m->encode(batch, nullptr, false).select(1, 0), hp[0].second, hp[1].second));
        QVERIFY(at::allclose(m->forward(batch, nullptr, false), at::linear(x, hp[2].second, hp[3].second), 0, 1e-6));
        QVERIFY(m->pooler_parameters().empty());
        try {
            m->ensure_pooler();
            QFAIL("DistilBERT has no pooler for multiple choice");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("DistilBERT") != std::string::npos, e.what());
        }
        // The backbone's tensors under the checkpoint's own names (a full fine-tuning adapter stores them).
        auto stored = load_all(d + "/model.safetensors");
        auto backbone = m->backbone_parameters();
        QCOMPARE(backbone.size() + 4, stored.size());
        for (auto& [n, t] : backbone) QVERIFY2(stored.count(n), n.c_str());
        // Its config's own keys are named when missing.
        json cj = read_json_file(d + "/config.json");
        cj.erase("n_heads");
        write_json_file(d + "/config.json", cj);
        try {
            ModelConfig::from_dir(d);
            QFAIL("a DistilBERT config without n_heads must be refused");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("n_heads") != std::string::npos, e.what());
        }
    }

    void missingTensorIsNamed() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        fs::copy_file(fixture("bert/model/config.json"), d + "/config.json");
        auto tensors = load_all(fixture("bert/model/model.safetensors"));
        std::vector<std::pair<std::string, at::Tensor>> kept;
        for (auto& [n, t] : tensors)
            if (n != "bert.encoder.layer.1.attention.self.key.weight") kept.push_back({n, t});
        save_tensors(d + "/model.safetensors", kept);
        try {
            EncoderClassifier::load(d);
            QFAIL("loading a checkpoint with a missing tensor must fail");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("bert.encoder.layer.1.attention.self.key.weight") != std::string::npos, e.what());
        }
    }

    void unsupportedModelType() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        json c = read_json_file(fixture("bert/model/config.json"));
        c["model_type"] = "gpt2";
        write_json_file(d + "/config.json", c);
        try {
            ModelConfig::from_dir(d);
            QFAIL("gpt2 must be refused");
        } catch (const Error& e) {
            std::string m = e.what();
            QVERIFY2(m.find("gpt2") != std::string::npos && m.find("config.json") != std::string::npos, e.what());
        }
    }

    // Integer fields: a whole number written as 30522.0 reads; one out of range or with a fraction is refused with
    // the field named (fuzz_config found 19e92 converted with overflow).
    void integerFieldsAreWholeAndInRange() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        json c = read_json_file(fixture("bert/model/config.json"));
        const int64_t vocab = c["vocab_size"].get<int64_t>();
        c["vocab_size"] = double(vocab);
        write_json_file(d + "/config.json", c);
        QCOMPARE(ModelConfig::from_dir(d).vocab_size, vocab);
        auto error_for = [&](const json& v) {
            c["vocab_size"] = v;
            write_json_file(d + "/config.json", c);
            try {
                ModelConfig::from_dir(d);
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        const std::string where = d + "/config.json: field \"vocab_size\" ";
        QCOMPARE(error_for(19e92), where + "must be a whole number from -9223372036854775808 to 9223372036854775807 (it is 1.9e+93)");
        QCOMPARE(error_for(30.5), where + "must be a whole number from -9223372036854775808 to 9223372036854775807 (it is 30.5)");
        QCOMPARE(error_for(json(18446744073709551615ULL)), where + "is too large (18446744073709551615; at most 9223372036854775807)");
    }

    // A fresh head (other label count) is initialised from the seed: same seed, same head.
    void freshHeadIsSeeded() {
        auto a = EncoderClassifier::load(fixture("roberta/model"), 3, 7);
        auto b = EncoderClassifier::load(fixture("roberta/model"), 3, 7);
        auto c = EncoderClassifier::load(fixture("roberta/model"), 3, 8);
        QVERIFY(!a->head_from_checkpoint());
        QCOMPARE(a->num_labels(), 3);
        auto ha = a->head_parameters(), hb = b->head_parameters(), hc = c->head_parameters();
        QVERIFY(at::equal(ha[0].second, hb[0].second));
        QVERIFY(!at::equal(ha[0].second, hc[0].second));
    }

    void positionLimit() {
        ModelConfig c = ModelConfig::from_dir(fixture("roberta/model"));  // 140 positions, padding_idx 1
        c.check_fits(128, 10);                                           // 128 + 10 + 2 = 140
        QVERIFY_THROWS_EXCEPTION(Error, c.check_fits(128, 11));
        ModelConfig b = ModelConfig::from_dir(fixture("bert/model"));     // 128 positions
        b.check_fits(120, 8);
        QVERIFY_THROWS_EXCEPTION(Error, b.check_fits(121, 8));
    }

    // A model path that is not there, or a file where the directory belongs, says so (not "no config.json").
    void missingOrFileModelPathIsNamed() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        auto error_of = [](const std::string& dir) {
            try {
                ModelConfig::from_dir(dir);
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        const std::string none = error_of(d + "/nonexistent");
        QVERIFY2(none.find(d + "/nonexistent: no such directory") != std::string::npos, none.c_str());
        QVERIFY2(none.find("config.json") == std::string::npos, none.c_str());
        std::ofstream(d + "/weights.bin") << "x";
        const std::string file = error_of(d + "/weights.bin");
        QVERIFY2(file.find("not a directory") != std::string::npos, file.c_str());
        fs::create_directories(d + "/empty");
        const std::string empty = error_of(d + "/empty");
        QVERIFY2(empty.find("no config.json") != std::string::npos, empty.c_str());
    }

    // An untrained save (every weight zero) loads, with a warning naming the file; a trained model has none.
    void allZeroCheckpointIsWarned() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        fs::copy_file(fixture("bert/model/config.json"), d + "/config.json");
        std::vector<std::pair<std::string, at::Tensor>> zeros;
        for (auto& [n, t] : load_all(fixture("bert/model/model.safetensors"))) zeros.push_back({n, at::zeros_like(t)});
        save_tensors(d + "/model.safetensors", zeros);
        auto z = EncoderClassifier::load(d);
        QCOMPARE(z->load_warnings().size(), size_t(1));
        const std::string& w = z->load_warnings()[0];
        QVERIFY2(w.find(d + "/model.safetensors") != std::string::npos, w.c_str());
        QVERIFY2(w.find("zero") != std::string::npos, w.c_str());
        QVERIFY(EncoderClassifier::load(fixture("bert/model"))->load_warnings().empty());
        // One non-zero weight in the last layer is enough to count as trained.
        zeros.clear();
        for (auto& [n, t] : load_all(fixture("bert/model/model.safetensors")))
            zeros.push_back({n, n.find("layer.1.output.dense.weight") != std::string::npos ? t : at::zeros_like(t)});
        save_tensors(d + "/model.safetensors", zeros);
        QVERIFY(EncoderClassifier::load(d)->load_warnings().empty());
    }
};

QTEST_APPLESS_MAIN(TstModel)
#include "tst_model.moc"
