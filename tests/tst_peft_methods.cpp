// The PEFT methods beside P-Tuning v2, imported from PEFT adapter directories (tests/fixtures, written and
// evaluated by transformers + PEFT 0.21): PROMPT_TUNING, P_TUNING (MLP encoder; PEFT saves its output), LORA
// (r 4, alpha 8 on query/value) and IA3 (key, value scaled at the output; attention.output.dense and
// output.dense scaled at the input). Logits on the 16 reference texts must equal PEFT's within 1e-4, and bad
// adapters must be refused with a message naming the file and tensor.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/engine/encoder.h"
#include "core/engine/methods.h"
#include "core/engine/peft_io.h"
#include "core/engine/tensor_io.h"
#include "core/io/json_util.h"

using namespace ptune;
namespace fs = std::filesystem;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

static void save_map(const std::string& path, const std::map<std::string, at::Tensor>& m) {
    save_tensors(path, std::vector<std::pair<std::string, at::Tensor>>(m.begin(), m.end()));
}

class TstPeftMethods : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void logitsEqualPeft_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("adapter");
        for (const char* arch : {"bert", "roberta"})
            for (const char* a : {"prompt_p6", "ptuning_mlp_p4", "lora_r4", "ia3"})
                QTest::newRow((std::string(arch) + "/" + a).c_str()) << QString(arch) << QString(a);
    }
    void logitsEqualPeft() {
        QFETCH(QString, arch);
        QFETCH(QString, adapter);
        const std::string a = arch.toStdString(), name = adapter.toStdString();
        json expected = read_json_file(fixture(a + "/expected.json"));
        auto model = EncoderClassifier::load(fixture(a + "/model"));
        PeftAdapter peft = PeftAdapter::load(fixture(a + "/adapter_" + name));
        PeftDelta delta = peft_delta_from(peft, model->config());
        QVERIFY(!delta.head.empty());
        apply_head(*model, delta.head);
        const Adaptation ad = delta.adaptation();
        if (name == "prompt_p6") QCOMPARE(ad.input_prompt.size(0), int64_t(6));
        if (name == "lora_r4" || name == "ia3") QCOMPARE(ad.layers.size(), size_t(model->config().num_layers));
        at::NoGradGuard g;
        const json& ids = expected["input_ids_96"];
        const json& want = expected["adapters"][name]["logits"];
        QCOMPARE(ids.size(), want.size());
        double worst = 0, effect = 0;
        for (size_t i = 0; i < ids.size(); ++i) {
            Batch b = make_batch({ids[i].get<std::vector<int64_t>>()}, model->config().pad_token_id);
            at::Tensor got = model->forward(b, ad, false)[0];
            at::Tensor exp = at::tensor(want[i].get<std::vector<float>>());
            worst = std::max(worst, (got - exp).abs().max().item<double>());
            at::Tensor base = at::tensor(expected["logits_base"][i].get<std::vector<float>>());
            effect = std::max(effect, (exp - base).abs().max().item<double>());
        }
        qInfo("%s %s: max |logit - PEFT| = %.3g (the adapter moves logits by up to %.3g)", a.c_str(), name.c_str(), worst, effect);
        QVERIFY(effect > 1e-2);   // the adapter changes the outcome, so equality is not the base model's
        QVERIFY2(worst < 1e-4, qPrintable(QString("max diff %1").arg(worst)));
    }

    // A padded batch gives each row the logits it has alone (virtual tokens and LoRA/IA3 with padding).
    void paddedBatchMatchesSingles_data() { logitsEqualPeft_data(); }
    void paddedBatchMatchesSingles() {
        QFETCH(QString, arch);
        QFETCH(QString, adapter);
        const std::string a = arch.toStdString(), name = adapter.toStdString();
        json expected = read_json_file(fixture(a + "/expected.json"));
        auto model = EncoderClassifier::load(fixture(a + "/model"));
        PeftDelta delta = peft_delta_from(PeftAdapter::load(fixture(a + "/adapter_" + name)), model->config());
        apply_head(*model, delta.head);
        const Adaptation ad = delta.adaptation();
        at::NoGradGuard g;
        std::vector<std::vector<int64_t>> rows;
        for (size_t i = 0; i < 6; ++i) rows.push_back(expected["input_ids_96"][i].get<std::vector<int64_t>>());
        at::Tensor batch = model->forward(make_batch(rows, model->config().pad_token_id), ad, false);
        if (a == "roberta" && (name == "prompt_p6" || name == "ptuning_mlp_p4")) {
            // RoBERTa numbers positions from inputs_embeds without looking at padding (transformers'
            // create_position_ids_from_inputs_embeds), so only the longest row equals its single run; the
            // others see pads at shifted positions exactly as PEFT computes them. Checked: the longest row.
            size_t longest = 0;
            for (size_t i = 1; i < rows.size(); ++i)
                if (rows[i].size() > rows[longest].size()) longest = i;
            at::Tensor single = model->forward(make_batch({rows[longest]}, model->config().pad_token_id), ad, false);
            QVERIFY((batch[(long)longest] - single[0]).abs().max().item<double>() < 1e-4);
            return;
        }
        for (size_t i = 0; i < rows.size(); ++i) {
            at::Tensor single = model->forward(make_batch({rows[i]}, model->config().pad_token_id), ad, false);
            QVERIFY2((batch[(long)i] - single[0]).abs().max().item<double>() < 1e-4, qPrintable(QString("row %1").arg(i)));
        }
    }

    // Import -> export gives PEFT's file back: the same tensor names, shapes and values, and the same config.
    void exportRoundTrip_data() { logitsEqualPeft_data(); }
    void exportRoundTrip() {
        QFETCH(QString, arch);
        QFETCH(QString, adapter);
        const std::string src = fixture(arch.toStdString() + "/adapter_" + adapter.toStdString());
        auto model = EncoderClassifier::load(fixture(arch.toStdString() + "/model"));
        PeftDelta delta = peft_delta_from(PeftAdapter::load(src), model->config());
        apply_head(*model, delta.head);
        QTemporaryDir tmp;
        const std::string out = tmp.path().toStdString() + "/export";
        export_peft_delta(out, delta, *model);
        auto want = load_all(src + "/adapter_model.safetensors");
        auto got = load_all(out + "/adapter_model.safetensors");
        QCOMPARE(got.size(), want.size());
        for (auto& [name, t] : want) {
            QVERIFY2(got.count(name), name.c_str());
            QCOMPARE(got[name].sizes().vec(), t.sizes().vec());
            QVERIFY2(at::equal(got[name], t.to(at::kFloat)), name.c_str());
        }
        QCOMPARE(read_json_file(out + "/adapter_config.json"), read_json_file(src + "/adapter_config.json"));
        // And it imports again to the same logits.
        auto again = EncoderClassifier::load(fixture(arch.toStdString() + "/model"));
        PeftDelta d2 = peft_delta_from(PeftAdapter::load(out), again->config());
        apply_head(*again, d2.head);
        at::NoGradGuard g;
        json expected = read_json_file(fixture(arch.toStdString() + "/expected.json"));
        Batch b = make_batch({expected["input_ids_96"][0].get<std::vector<int64_t>>()}, again->config().pad_token_id);
        QVERIFY(at::equal(again->forward(b, d2.adaptation(), false), model->forward(b, delta.adaptation(), false)));
    }

    // A run trained in ptune exports to PEFT's layout: given the reference adapter's values, ptune's LoRA, IA3 and
    // prompt tuning methods write PEFT's file back tensor for tensor; P-tuning writes the same names and shapes
    // (its values are the encoder's output). The config holds only keys PEFT 0.21 writes itself, with the same
    // values where they matter, and target/feed-forward modules that select the same modules under PEFT's rules.
    void trainedMethodsExportInPeftsLayout_data() { logitsEqualPeft_data(); }
    void trainedMethodsExportInPeftsLayout() {
        QFETCH(QString, arch);
        QFETCH(QString, adapter);
        const std::string name = adapter.toStdString();
        const std::string src = fixture(arch.toStdString() + "/adapter_" + name);
        auto model = EncoderClassifier::load(fixture(arch.toStdString() + "/model"));
        const ModelConfig& cfg = model->config();
        PeftDelta ref = peft_delta_from(PeftAdapter::load(src), cfg);
        apply_head(*model, ref.head);
        const json ref_cfg = read_json_file(src + "/adapter_config.json");
        DeltaOptions o;
        std::string method;
        int64_t P = 0;
        if (name == "lora_r4") {
            method = "lora", o.lora_r = 4, o.lora_alpha = 8, o.target_modules = {"query", "value"};
        } else if (name == "ia3") {
            method = "ia3", o.target_modules = {"key", "value", "attention.output.dense", "output.dense"};
        } else if (name == "prompt_p6") {
            method = "prompt", P = 6;
        } else {
            method = "ptuning", P = 4, o.encoder_hidden = 32;
        }
        auto delta = make_method(method, *model, P, o, {}, 1);
        // The reference's values into ptune's method (its own parameter names).
        if (method == "prompt") delta->set_parameter("prompt_embeddings", ref.input_prompt);
        for (size_t l = 0; l < ref.layers.size(); ++l)
            for (int si = 0; si < kSites; ++si) {
                const LinearDelta& d = ref.layers[l][(size_t)si];
                const std::string base = "layer." + std::to_string(l) + "." + site_name((Site)si);
                if (d.lora_A.defined()) delta->set_parameter(base + ".lora_A.weight", d.lora_A);
                if (d.lora_B.defined()) delta->set_parameter(base + ".lora_B.weight", d.lora_B);
                if (d.ia3_out.defined()) delta->set_parameter(base + ".ia3_out", d.ia3_out);
                if (d.ia3_in.defined()) delta->set_parameter(base + ".ia3_in", d.ia3_in);
            }
        QTemporaryDir tmp;
        const std::string out = tmp.path().toStdString() + "/trained";
        export_peft_delta(out, peft_delta_of(method, o, *delta, *model, fixture(arch.toStdString() + "/model")), *model);
        auto want = load_all(src + "/adapter_model.safetensors");
        auto got = load_all(out + "/adapter_model.safetensors");
        QCOMPARE(got.size(), want.size());
        for (auto& [n, t] : want) {
            QVERIFY2(got.count(n), n.c_str());
            QCOMPARE(got[n].sizes().vec(), t.sizes().vec());
            if (method != "ptuning" || n != "prompt_embeddings") QVERIFY2(at::equal(got[n], t.to(at::kFloat)), n.c_str());
        }
        const json c = read_json_file(out + "/adapter_config.json");
        for (auto it = c.begin(); it != c.end(); ++it) QVERIFY2(ref_cfg.contains(it.key()), it.key().c_str());
        for (const char* k : {"peft_type", "task_type", "inference_mode", "r", "lora_alpha", "lora_dropout", "use_rslora",
                              "bias", "use_dora", "num_virtual_tokens", "token_dim", "num_layers", "num_attention_heads",
                              "num_transformer_submodules", "encoder_hidden_size", "encoder_reparameterization_type",
                              "prompt_tuning_init", "fan_in_fan_out"})
            if (ref_cfg.contains(k)) QVERIFY2(c.contains(k) && c[k] == ref_cfg[k], k);
        // PEFT's matching: target_modules entries match a module equal to them or ending in "." + entry; IA3's
        // feedforward_modules entries match a module ending in them.
        auto selected = [](const json& names, bool dot) {
            std::set<int> out;
            for (int si = 0; si < kSites; ++si) {
                const std::string key = std::string("bert.encoder.layer.0.") + site_name((Site)si);
                for (const auto& t : names) {
                    const std::string e = (dot ? "." : "") + t.get<std::string>();
                    if (key == t.get<std::string>() || (key.size() >= e.size() && key.compare(key.size() - e.size(), e.size(), e) == 0))
                        out.insert(si);
                }
            }
            return out;
        };
        if (ref_cfg.contains("target_modules") && ref_cfg["target_modules"].is_array())
            QCOMPARE(selected(c["target_modules"], true), selected(ref_cfg["target_modules"], true));
        if (ref_cfg.contains("feedforward_modules") && ref_cfg["feedforward_modules"].is_array())
            QCOMPARE(selected(c["feedforward_modules"], false), selected(ref_cfg["feedforward_modules"], false));
    }

    // Module choices no PEFT list can name exactly become a regular expression (PEFT fullmatches a string).
    void moduleListsOrPatterns() {
        QCOMPARE(peft_module_fields({Site::Query, Site::Value}, nullptr)["target_modules"], json({"query", "value"}));
        QCOMPARE(peft_module_fields({Site::AttnOut}, nullptr)["target_modules"], json({"attention.output.dense"}));
        // "output.dense" in a list would also select attention.output.dense.
        QCOMPARE(peft_module_fields({Site::Query, Site::Output}, nullptr)["target_modules"],
                 json(".*encoder\\.layer\\.[0-9]+\\.(attention\\.self\\.query|output\\.dense)"));
        const std::vector<Site> ia3{Site::Key, Site::Value, Site::AttnOut, Site::Output};
        const std::vector<Site> both{Site::AttnOut, Site::Output}, ffn{Site::Output};
        json j = peft_module_fields(ia3, &both);
        QCOMPARE(j["target_modules"], json({"key", "value", "attention.output.dense", "output.dense"}));
        QCOMPARE(j["feedforward_modules"], json({"attention.output.dense", "output.dense"}));
        // Only the FFN output scaled at its input while attention.output.dense is a target: a pattern.
        j = peft_module_fields(ia3, &ffn);
        QCOMPARE(j["feedforward_modules"], json(".*encoder\\.layer\\.[0-9]+\\.(output\\.dense)"));
        const std::vector<Site> kv{Site::Key, Site::Value}, none;
        QCOMPARE(peft_module_fields(kv, &none)["feedforward_modules"], json::array());
    }

    // Merging LoRA and IA3 into the weights computes what the unmerged adapter computes.
    void mergeEqualsUnmerged_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("adapter");
        for (const char* arch : {"bert", "roberta"})
            for (const char* a : {"lora_r4", "ia3"})
                QTest::newRow((std::string(arch) + "/" + a).c_str()) << QString(arch) << QString(a);
    }
    void mergeEqualsUnmerged() {
        QFETCH(QString, arch);
        QFETCH(QString, adapter);
        const std::string a = arch.toStdString(), name = adapter.toStdString();
        json expected = read_json_file(fixture(a + "/expected.json"));
        auto model = EncoderClassifier::load(fixture(a + "/model"));
        PeftDelta delta = peft_delta_from(PeftAdapter::load(fixture(a + "/adapter_" + name)), model->config());
        apply_head(*model, delta.head);
        at::NoGradGuard g;
        std::vector<at::Tensor> unmerged;
        for (size_t i = 0; i < 4; ++i) {
            Batch b = make_batch({expected["input_ids_96"][i].get<std::vector<int64_t>>()}, model->config().pad_token_id);
            unmerged.push_back(model->forward(b, delta.adaptation(), false));
        }
        model->merge(delta.adaptation());
        for (size_t i = 0; i < 4; ++i) {
            Batch b = make_batch({expected["input_ids_96"][i].get<std::vector<int64_t>>()}, model->config().pad_token_id);
            at::Tensor merged = model->forward(b, Adaptation{}, false);
            QVERIFY2((merged - unmerged[i]).abs().max().item<double>() < 1e-5, qPrintable(QString("text %1").arg(i)));
            at::Tensor want = at::tensor(expected["adapters"][name]["logits"][i].get<std::vector<float>>());
            QVERIFY((merged[0] - want).abs().max().item<double>() < 1e-4);
        }
        Adaptation with_prompt;
        with_prompt.input_prompt = at::zeros({2, model->config().hidden_size});
        QVERIFY_THROWS_EXCEPTION(Error, model->merge(with_prompt));
    }

    // PEFT's target "dense" on BERT also adapts pooler.dense (the sequence head reads the pooler): such an adapter
    // is read, its pooler LoRA applied under the head (tanh(pooler(h) + scaling B A h)), and merged too. Loading it
    // into a method to train further is refused, since no method of ptune's trains the pooler.
    void loraOnThePoolerIsApplied() {
        QTemporaryDir tmp;
        auto model = EncoderClassifier::load(fixture("bert/model"));
        const std::string src = fixture("bert/adapter_lora_r4");
        const std::string dir = tmp.path().toStdString() + "/lora-pooler";
        fs::create_directories(dir);
        json cfg = read_json_file(src + "/adapter_config.json");
        cfg["target_modules"] = {"query", "value", "pooler.dense"};
        write_json_file(dir + "/adapter_config.json", cfg);
        auto tensors = load_all(src + "/adapter_model.safetensors");
        at::manual_seed(3);
        const at::Tensor A = at::randn({4, 64}) * 0.3, B = at::randn({64, 4}) * 0.3;
        tensors["base_model.model.bert.pooler.dense.lora_A.weight"] = A;
        tensors["base_model.model.bert.pooler.dense.lora_B.weight"] = B;
        save_map(dir + "/adapter_model.safetensors", tensors);

        PeftDelta with = peft_delta_from(PeftAdapter::load(dir), model->config());
        PeftDelta without = peft_delta_from(PeftAdapter::load(src), model->config());
        QVERIFY(with.pooler.lora_A.defined());
        const double scaling = cfg["lora_alpha"].get<double>() / 4.0;
        QCOMPARE(with.pooler.lora_scaling, scaling);
        apply_head(*model, with.head);
        json expected = read_json_file(fixture("bert/expected.json"));
        at::NoGradGuard g;
        Batch b = make_batch({expected["input_ids_96"][2].get<std::vector<int64_t>>()}, 0);
        const at::Tensor got = model->forward(b, with.adaptation(), false);
        // By hand: the layers' LoRA through encode, then the pooler with its own LoRA, then the classifier.
        const at::Tensor h0 = model->encode(b, without.adaptation(), false).select(1, 0);
        std::map<std::string, at::Tensor> pooler, head;
        for (auto& [n, t] : model->pooler_parameters()) pooler[n] = t;
        for (auto& [n, t] : model->head_parameters()) head[n] = t;
        const at::Tensor pooled = at::tanh(at::linear(h0, pooler.at("pooler.dense.weight"), pooler.at("pooler.dense.bias")) +
                                           at::linear(at::linear(h0, A), B) * scaling);
        const at::Tensor want = at::linear(pooled, head.at("classifier.weight"), head.at("classifier.bias"));
        QVERIFY2(at::allclose(got, want, 1e-5, 1e-6), qPrintable(QString("diff %1").arg((got - want).abs().max().item<double>())));
        QVERIFY((got - model->forward(b, without.adaptation(), false)).abs().max().item<double>() > 1e-3);
        // Merged into the weights, the plain model computes the same.
        auto merged = EncoderClassifier::load(fixture("bert/model"));
        apply_head(*merged, with.head);
        merged->merge(with.adaptation());
        QVERIFY(at::allclose(merged->forward(b, Adaptation{}, false), got, 1e-5, 1e-5));
        // Its tensors beside a LoRA method's: the pooler's are not among the method's, which refuses them.
        auto have = delta_parameters_of(with);
        QVERIFY(have.count("pooler.dense.lora_A.weight"));
        QCOMPARE(have.size(), delta_parameters_of(without).size() + 2);
    }

    void badAdaptersAreRefused() {
        QTemporaryDir tmp;
        auto model = EncoderClassifier::load(fixture("bert/model"));
        const std::string src = fixture("bert/adapter_lora_r4");
        const std::string dir = tmp.path().toStdString() + "/lora";
        fs::create_directories(dir);
        fs::copy_file(src + "/adapter_config.json", dir + "/adapter_config.json");
        auto tensors = load_all(src + "/adapter_model.safetensors");
        // A LoRA B of the wrong width.
        auto bad = tensors;
        bad["base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.weight"] = at::zeros({63, 4});
        save_map(dir + "/adapter_model.safetensors", bad);
        try {
            peft_delta_from(PeftAdapter::load(dir), model->config());
            QFAIL("a wrong shape was accepted");
        } catch (const Error& e) {
            const QString m = e.what();
            QVERIFY2(m.contains("adapter_model.safetensors") && m.contains("layer.0.attention.self.query.lora_B") &&
                         m.contains("[63, 4]"),
                     qPrintable(m));
        }
        // A layer the model does not have.
        bad = tensors;
        bad["base_model.model.bert.encoder.layer.7.attention.self.query.lora_A.weight"] = at::zeros({4, 64});
        save_map(dir + "/adapter_model.safetensors", bad);
        QVERIFY_THROWS_EXCEPTION(Error, peft_delta_from(PeftAdapter::load(dir), model->config()));
        // DoRA would compute something else: refused.
        json cfg = read_json_file(src + "/adapter_config.json");
        cfg["use_dora"] = true;
        std::ofstream(dir + "/adapter_config.json") << cfg.dump();
        save_map(dir + "/adapter_model.safetensors", tensors);
        try {
            peft_delta_from(PeftAdapter::load(dir), model->config());
            QFAIL("DoRA was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("use_dora"), e.what());
        }
    }
};

QTEST_MAIN(TstPeftMethods)
#include "tst_peft_methods.moc"
