// P-Tuning v2 logits against PEFT (PREFIX_TUNING adapters in tests/fixtures, logits computed by
// transformers 5.17 + PEFT 0.21), a right-padded batch with prefixes, depth, and export -> import round trips.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/peft_io.h"
#include "core/engine/tensor_io.h"
#include "core/io/json_util.h"

using namespace ptune;
namespace fs = std::filesystem;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

static double max_abs_diff(const at::Tensor& a, const json& expected) {
    std::vector<float> flat;
    for (const auto& row : expected) {
        if (row.is_array())
            for (const auto& v : row) flat.push_back(v.get<float>());
        else
            flat.push_back(row.get<float>());
    }
    return (a.detach().to(at::kFloat).reshape({-1}) - at::tensor(flat)).abs().max().item<double>();
}

struct Loaded {
    std::unique_ptr<EncoderClassifier> model;
    PromptAdapter adapter;
};

static Loaded load(const std::string& arch, const std::string& adapter) {
    Loaded l;
    l.model = EncoderClassifier::load(fixture(arch + "/model"));
    l.adapter = load_prompt_adapter(fixture(arch + "/" + adapter), l.model->config());
    apply_head(*l.model, l.adapter.head);
    return l;
}

static at::Tensor logits_one_by_one(const Loaded& l, const json& ids) {
    at::NoGradGuard g;
    std::vector<at::Tensor> rows;
    PrefixKV kv = l.adapter.prompt->prefix(false);
    for (const auto& x : ids) {
        Batch b = make_batch({x.get<std::vector<int64_t>>()}, l.model->config().pad_token_id);
        rows.push_back(l.model->forward(b, &kv, false)[0]);
    }
    return at::stack(rows);
}

class TstPtv2 : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void peftLogits_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("adapter");
        for (const char* a : {"bert", "roberta"}) {
            QTest::newRow((std::string(a) + " prefix_p5").c_str()) << a << "prefix_p5";
            QTest::newRow((std::string(a) + " prefix_mlp_p4").c_str()) << a << "prefix_mlp_p4";
        }
    }
    void peftLogits() {
        QFETCH(QString, arch);
        QFETCH(QString, adapter);
        const std::string a = arch.toStdString(), ad = adapter.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        Loaded l = load(a, "adapter_" + ad);
        QCOMPARE(l.adapter.prompt->prompt_len(), ad == "prefix_p5" ? 5 : 4);
        QCOMPARE((int64_t)l.adapter.prompt->layers().size(), l.model->config().num_layers);
        at::Tensor out = logits_one_by_one(l, exp["input_ids_96"]);
        QCOMPARE(out.size(0), 10);
        double d = max_abs_diff(out, exp["adapters"][ad]["logits"]);
        qInfo("%s %s: max |diff| = %.3g", a.c_str(), ad.c_str(), d);
        QVERIFY2(d < 1e-4, qPrintable(QString::number(d)));
        // The prompts change the logits (the test would pass trivially otherwise).
        at::NoGradGuard g;
        Batch b = make_batch({exp["input_ids_96"][3].get<std::vector<int64_t>>()}, l.model->config().pad_token_id);
        PrefixKV kv = l.adapter.prompt->prefix(false);
        QVERIFY((l.model->forward(b, &kv, false) - l.model->forward(b, nullptr, false)).abs().max().item<double>() > 1e-2);
    }

    void paddedBatch_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("bert") << "bert";
        QTest::newRow("roberta") << "roberta";
    }
    void paddedBatch() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        Loaded l = load(a, "adapter_prefix_p5");
        std::vector<std::vector<int64_t>> ids;
        for (int i = 0; i < 8; ++i) ids.push_back(exp["input_ids_96"][i].get<std::vector<int64_t>>());
        Batch b = make_batch(ids, l.model->config().pad_token_id);
        QVERIFY(b.attention_mask.sum().item<int64_t>() < b.attention_mask.numel());  // really padded
        at::NoGradGuard g;
        PrefixKV kv = l.adapter.prompt->prefix(false);
        at::Tensor out = l.model->forward(b, &kv, false);
        double d = max_abs_diff(out, exp["adapters"]["prefix_p5"]["logits_batch_padded"]);
        QVERIFY2(d < 1e-4, qPrintable(QString::number(d)));
    }

    // Layers without prompts get none: a prompt on the last layer only leaves the first layers' output alone.
    void partialDepth() {
        auto model = EncoderClassifier::load(fixture("roberta/model"));
        const auto& cfg = model->config();
        PrefixOptions o;
        o.prompt_len = 3;
        o.layers = LayerSpec::parse("last:1");
        DeepPrompt p(cfg, o, 1);
        QCOMPARE(p.layers(), std::vector<int>({2}));
        QCOMPARE(p.param_count(), 3 * 2 * 1 * cfg.hidden_size);
        QCOMPARE(o.param_count(cfg.hidden_size, (int)cfg.num_layers), p.param_count());
        PrefixKV kv = p.prefix(false);
        QVERIFY(!kv.key[0].defined() && !kv.key[1].defined() && kv.key[2].defined());
        QCOMPARE(kv.key[2].sizes().vec(), std::vector<int64_t>({1, cfg.num_heads, 3, cfg.head_dim()}));
        // The same values as a full-depth prompt's layer 2 give the same keys for that layer.
        PrefixOptions all = o;
        all.layers = LayerSpec{"all"};
        DeepPrompt q(cfg, all, 1);
        at::Tensor f = q.flat().detach().clone();
        const int64_t H = cfg.hidden_size;
        p.set_parameter("prompt_embeddings", f.slice(1, 4 * H, 6 * H));
        QVERIFY(at::equal(p.prefix(false).key[2], q.prefix(false).key[2]));
        QVERIFY(at::equal(p.prefix(false).value[2], q.prefix(false).value[2]));
        // Layer norms of the chosen layer are those of its slices.
        auto norms = p.layer_norms(p.flat());
        QCOMPARE(norms.size(), size_t(1));
        QVERIFY(std::abs(norms[0].first - f.slice(1, 4 * H, 5 * H).norm().item<double>()) < 1e-4);
        QVERIFY(std::abs(norms[0].second - f.slice(1, 5 * H, 6 * H).norm().item<double>()) < 1e-4);
    }

    void layerSpecs() {
        QCOMPARE(LayerSpec{"all"}.resolve(4), std::vector<int>({0, 1, 2, 3}));
        QCOMPARE(LayerSpec{"first:2"}.resolve(4), std::vector<int>({0, 1}));
        QCOMPARE(LayerSpec{"last:3"}.resolve(4), std::vector<int>({1, 2, 3}));
        QCOMPARE(LayerSpec{"3, 1,1"}.resolve(4), std::vector<int>({1, 3}));
        QVERIFY_THROWS_EXCEPTION(Error, LayerSpec{"first:5"}.resolve(4));
        QVERIFY_THROWS_EXCEPTION(Error, LayerSpec{"4"}.resolve(4));
        QVERIFY_THROWS_EXCEPTION(Error, LayerSpec::parse("middle"));
        QCOMPARE(LayerSpec::from_layers({2, 3}, 4).text, std::string("last:2"));
        QCOMPARE(LayerSpec::from_layers({0, 1, 2, 3}, 4).text, std::string("all"));
        QCOMPARE(LayerSpec::from_layers({0, 2}, 4).text, std::string("0,2"));
    }

    // PEFT export writes exactly the prompts and head that were loaded; re-import gives the same logits.
    void peftRoundTrip() {
        Loaded l = load("bert", "adapter_prefix_p5");
        QTemporaryDir tmp;
        const std::string out = tmp.path().toStdString() + "/peft";
        export_peft(out, *l.adapter.prompt, *l.model, {"other", "returns"}, "bert-test");
        auto orig = load_all(fixture("bert/adapter_prefix_p5/adapter_model.safetensors"));
        auto mine = load_all(out + "/adapter_model.safetensors");
        QCOMPARE(mine.size(), orig.size());
        for (auto& [n, t] : orig) {
            QVERIFY2(mine.count(n), n.c_str());
            QVERIFY2(at::equal(mine[n], t), n.c_str());
        }
        json c = read_json_file(out + "/adapter_config.json");
        QCOMPARE(c["peft_type"].get<std::string>(), std::string("PREFIX_TUNING"));
        QCOMPARE(c["num_virtual_tokens"].get<int>(), 5);
        QCOMPARE(c["num_layers"].get<int>(), 2);
        QCOMPARE(c["token_dim"].get<int>(), 64);
        QCOMPARE(c["prefix_projection"].get<bool>(), false);
        auto model2 = EncoderClassifier::load(fixture("bert/model"));
        PromptAdapter back = load_prompt_adapter(out, model2->config());
        QCOMPARE(back.label_names, std::vector<std::string>({"other", "returns"}));
        QVERIFY(at::equal(back.prompt->flat(), l.adapter.prompt->flat()));
    }

    // A BERT checkpoint without a pooler: the random pooler travels in ptune's format (a reload under another
    // seed gives the same logits), and the PEFT export is refused (transformers would draw another pooler).
    void checkpointWithoutPooler() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        fs::copy_file(fixture("bert/model/config.json"), d + "/config.json");
        std::vector<std::pair<std::string, at::Tensor>> kept;
        for (auto& [n, t] : load_all(fixture("bert/model/model.safetensors")))
            if (n.find("pooler") == std::string::npos) kept.push_back({n, t});
        save_tensors(d + "/model.safetensors", kept);
        auto m1 = EncoderClassifier::load(d, -1, 1);
        QVERIFY(!m1->pooler_from_checkpoint());
        PrefixOptions o;
        o.prompt_len = 2;
        DeepPrompt p(m1->config(), o, 1);
        QVERIFY_THROWS_EXCEPTION(Error, export_peft(d + "/peft", p, *m1, {"a", "b"}, d));
        export_ptune(d + "/own", p, *m1, {"a", "b"}, d);
        auto m2 = EncoderClassifier::load(d, -1, 99);
        PromptAdapter a = load_prompt_adapter(d + "/own", m2->config());
        QCOMPARE(a.base.size(), size_t(2));
        apply_base(*m2, a.base);
        apply_head(*m2, a.head);
        json exp = read_json_file(fixture("bert/expected.json"));
        at::NoGradGuard g;
        Batch b = make_batch({exp["input_ids"][4].get<std::vector<int64_t>>()}, 0);
        PrefixKV k1 = p.prefix(false), k2 = a.prompt->prefix(false);
        QVERIFY(at::equal(m1->forward(b, &k1, false), m2->forward(b, &k2, false)));
    }

    // With the MLP option the PEFT export holds the MLP's output as plain prompts (prefix_projection false, so
    // PEFT loads it in inference and training mode alike).
    void mlpExportsItsOutput() {
        auto model = EncoderClassifier::load(fixture("bert/model"));
        PrefixOptions o;
        o.prompt_len = 3;
        o.mlp = true;
        o.mlp_hidden = 8;
        DeepPrompt p(model->config(), o, 2);
        QTemporaryDir tmp;
        export_peft(tmp.path().toStdString(), p, *model, {"other", "returns"}, "m");
        json c = read_json_file(tmp.path().toStdString() + "/adapter_config.json");
        QCOMPARE(c["prefix_projection"].get<bool>(), false);
        auto t = load_all(tmp.path().toStdString() + "/adapter_model.safetensors");
        QVERIFY(at::allclose(t["prompt_embeddings"], p.flat().detach(), 0, 0));
    }

    // ptune's own format keeps partial depth and the MLP's weights; PEFT export of partial depth is refused.
    void ptuneFormatRoundTrip() {
        auto model = EncoderClassifier::load(fixture("roberta/model"));
        PrefixOptions o;
        o.prompt_len = 4;
        o.layers = LayerSpec::parse("0,2");
        o.mlp = true;
        o.mlp_hidden = 16;
        DeepPrompt p(model->config(), o, 3);
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString();
        try {
            export_peft(dir + "/peft", p, *model, {"a", "b"}, "x");
            QFAIL("partial depth must not export to PEFT");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("ptune") != std::string::npos, e.what());
        }
        QVERIFY(!fs::exists(dir + "/peft/adapter_model.safetensors"));
        export_ptune(dir + "/own", p, *model, {"a", "b"}, "x");
        PromptAdapter back = load_prompt_adapter(dir + "/own", model->config());
        QCOMPARE(back.prompt->layers(), std::vector<int>({0, 2}));
        QVERIFY(back.prompt->options().mlp);
        auto pa = p.parameters(), pb = back.prompt->parameters();
        QCOMPARE(pa.size(), pb.size());
        for (size_t i = 0; i < pa.size(); ++i) QVERIFY(at::equal(pa[i].second, pb[i].second));
        QVERIFY(at::allclose(back.prompt->flat(), p.flat()));
    }
};

QTEST_APPLESS_MAIN(TstPtv2)
#include "tst_ptv2.moc"
