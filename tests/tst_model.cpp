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
};

QTEST_APPLESS_MAIN(TstModel)
#include "tst_model.moc"
