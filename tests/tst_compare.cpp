// Comparing runs (experiments/compare.h): runs that differ only by seed form one group with exact mean ± sample
// std over the completed runs; CSV exports of many runs read back to the stored values, names quoted per RFC 4180.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <sstream>

#include "core/io/json_util.h"
#include "experiments/compare.h"

using namespace ptune;

namespace {

// A spec JSON shaped as ExperimentSpec::to_json writes it (this suite links only the store, not spec.cpp).
json spec_json(int64_t seed, int64_t prompt_len, double lr = 5e-3, const std::string& metric = "accuracy") {
    return json{{"ptune_spec", 1},
                {"name", "seed " + std::to_string(seed)},
                {"model", "builtin"},
                {"data", {{"train", "builtin"}, {"valid", ""}, {"valid_fraction", 0.1}, {"split_seed", 42}}},
                {"method", {{"name", "ptv2"}, {"prompt_len", prompt_len}, {"layers", "all"}, {"mlp", false}}},
                {"train", {{"lr", lr}, {"seed", seed}, {"metric", metric}, {"batch_size", 16}}},
                {"out_dir", "/tmp/run-" + std::to_string(seed)},
                {"tags", json::array({"t" + std::to_string(seed)})},
                {"notes", "note " + std::to_string(seed)},
                {"suite", ""}};
}

RunRecord record(const std::string& name, int64_t seed, int64_t prompt_len, const std::string& status) {
    RunRecord r;
    r.name = name;
    r.status = status;
    r.spec_json = spec_json(seed, prompt_len).dump();
    r.model = "builtin";
    r.dataset = "builtin";
    r.method = "ptv2";
    r.prompt_len = (int)prompt_len;
    r.layers = "all";
    r.seed = seed;
    return r;
}

// RFC 4180 reader: fields may be quoted, with "" for a quote and commas/newlines inside.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
            any = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
            any = true;
        } else if (c == '\n') {
            row.push_back(field);
            rows.push_back(row);
            row.clear();
            field.clear();
            any = false;
        } else {
            field += c;
            any = true;
        }
    }
    if (any) {
        row.push_back(field);
        rows.push_back(row);
    }
    return rows;
}

double num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

}  // namespace

class TstCompare : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    int db_count = 0;
    std::string fresh_db() { return (tmp.path() + QString("/runs%1.sqlite").arg(++db_count)).toStdString(); }

private Q_SLOTS:
    void seedGroupKeyIgnoresOnlySeedAndBookkeeping() {
        RunRecord a = record("a", 1, 16, "completed"), b = record("b, other name", 2, 16, "completed");
        QCOMPARE(seed_group_key(a), seed_group_key(b));
        // Another split seed is another experiment.
        json s = json::parse(b.spec_json);
        s["data"]["split_seed"] = 7;
        b.spec_json = s.dump();
        QVERIFY(seed_group_key(a) != seed_group_key(b));
        // The key keeps everything else, canonically.
        json key = json::parse(seed_group_key(a));
        QVERIFY(!key.contains("name") && !key.contains("tags") && !key.contains("notes") && !key.contains("out_dir"));
        QVERIFY(!key["train"].contains("seed"));
        QCOMPARE(key["train"]["lr"].get<double>(), 5e-3);
        QCOMPARE(key["data"]["split_seed"].get<int>(), 42);
        // Unparsable specs fall back to the record's columns.
        RunRecord c = a, d = a, e = a;
        c.spec_json = d.spec_json = "not json";
        c.seed = 5;
        d.seed = 6;
        e.spec_json = "{broken";
        e.prompt_len = 64;
        QCOMPARE(seed_group_key(c), seed_group_key(d));
        QVERIFY(seed_group_key(c) != seed_group_key(e));
    }

    void groupsThreeSeedsAndOneOther() {
        Store store(fresh_db());
        std::vector<int64_t> ids;
        const double acc[] = {0.5, 0.75, 1.0}, loss[] = {1.0, 2.0, 3.0};
        for (int i = 0; i < 3; ++i) {
            ids.push_back(store.create_run(record("seed run " + std::to_string(i), 11 + i, 16, "queued")));
            store.start_run(ids.back());
            store.finish_run(ids.back(), "completed", "", json{{"accuracy", acc[i]}, {"loss", loss[i]}}.dump(),
                             json{{"accuracy", acc[i]}}.dump(), 10 * (i + 1));
        }
        const int64_t other = store.create_run(record("long prompts", 11, 128, "queued"));
        store.finish_run(other, "completed", "", json{{"accuracy", 0.25}}.dump(), json{{"accuracy", 0.3}}.dump(), 5);
        // Same spec, another seed, but failed: listed, not counted.
        const int64_t failed = store.create_run(record("failed seed", 99, 16, "queued"));
        store.finish_run(failed, "failed", "out of memory", "{}", json{{"accuracy", 0.0}}.dump(), 1);

        std::vector<RunRecord> runs;
        for (int64_t id : {ids[0], other, ids[1], ids[2], failed}) runs.push_back(*store.run(id));
        const std::vector<SeedGroup> groups = group_by_seed(runs);
        QCOMPARE(groups.size(), size_t(2));
        QCOMPARE(groups[0].run_ids, (std::vector<int64_t>{ids[0], ids[1], ids[2], failed}));
        QCOMPARE(groups[1].run_ids, (std::vector<int64_t>{other}));
        QCOMPARE(groups[0].completed, 3);
        QCOMPARE(groups[0].label, std::string("ptv2 P=16 all on builtin (4 seeds, 3 completed)"));
        QCOMPARE(groups[1].label, std::string("ptv2 P=128 all on builtin (1 seed)"));

        const Stat a = groups[0].best.at("accuracy");
        QCOMPARE(a.n, 3);
        QCOMPARE(a.mean, 0.75);
        QCOMPARE(a.std, 0.25);  // sqrt((0.0625 + 0 + 0.0625) / (3 - 1))
        const Stat fl = groups[0].best.at("final/loss");
        QCOMPARE(fl.n, 3);
        QCOMPARE(fl.mean, 2.0);
        QCOMPARE(fl.std, 1.0);
        QCOMPARE(groups[0].best.at("final/accuracy").mean, 0.75);
        QCOMPARE(groups[0].best.size(), size_t(3));  // accuracy, final/accuracy, final/loss

        const Stat one = groups[1].best.at("accuracy");
        QCOMPARE(one.n, 1);
        QCOMPARE(one.mean, 0.3);
        QCOMPARE(one.std, 0.0);
    }

    void labelsOfGroupsThatReadTheSameNameTheDifference() {
        RunRecord a = record("a", 1, 16, "completed"), b = record("b", 1, 16, "completed");
        b.spec_json = spec_json(1, 16, 1e-2).dump();
        const auto groups = group_by_seed({a, b});
        QCOMPARE(groups.size(), size_t(2));
        QCOMPARE(groups[0].label, std::string("ptv2 P=16 all on builtin train.lr=0.005 (1 seed)"));
        QCOMPARE(groups[1].label, std::string("ptv2 P=16 all on builtin train.lr=0.01 (1 seed)"));
    }

    void primaryMetricAndDuration() {
        RunRecord r = record("r", 1, 16, "completed");
        QCOMPARE(primary_metric(r), std::string("accuracy"));
        r.spec_json = spec_json(1, 16, 5e-3, "f1").dump();
        QCOMPARE(primary_metric(r), std::string("f1"));
        r.spec_json = "";
        QCOMPARE(primary_metric(r), std::string("accuracy"));
        r.started_at = 1000.5;
        r.finished_at = 4661.5;
        QCOMPARE(duration_s(r), 3661.0);
        r.finished_at = 0;
        QCOMPARE(duration_s(r), 0.0);
        r.started_at = 0;
        r.finished_at = 5;
        QCOMPARE(duration_s(r), 0.0);
    }

    void csvFieldQuoting() {
        QCOMPARE(csv_field("plain"), std::string("plain"));
        QCOMPARE(csv_field("a,b"), std::string("\"a,b\""));
        QCOMPARE(csv_field("say \"hi\""), std::string("\"say \"\"hi\"\"\""));
        QCOMPARE(csv_field("two\nlines"), std::string("\"two\nlines\""));
        QCOMPARE(csv_number(0.1), std::string("0.1"));
        QCOMPARE(csv_number(3.0), std::string("3"));
        QCOMPARE(csv_number(std::nan("")), std::string("nan"));
        QCOMPARE(num(csv_number(1.0 / 3.0)), 1.0 / 3.0);
    }

    void metricsCsvReadsBackExactly() {
        Store store(fresh_db());
        const std::string odd_name = "best, \"final\"\nrun";
        const int64_t a = store.create_run(record(odd_name, 7, 16, "queued"));
        const int64_t b = store.create_run(record("plain", 8, 4, "queued"));
        const std::vector<MetricPoint> pa = {{1, 0.01, 0.5, "train/loss", 1.0 / 3.0},
                                             {2, 0.02, 1.25, "train/loss", 0.1},
                                             {2, 0.02, 1.3, "eval/accuracy", 0.8125},
                                             {3, 0.03, 2.0, "train/loss", 1e-300}};
        const std::vector<MetricPoint> pb = {{5, 1.5, 10.0, "train/loss", 2.5}};
        store.add_metrics(a, pa);
        store.add_metrics(b, pb);

        std::ostringstream out;
        write_metrics_csv(store, {b, a}, out);
        const auto rows = parse_csv(out.str());
        QCOMPARE(rows.size(), size_t(1 + 1 + 4));
        QCOMPARE(rows[0], (std::vector<std::string>{"run_id", "run_name", "seed", "method", "prompt_len", "layers", "key",
                                                    "step", "epoch", "time_s", "value"}));
        QCOMPARE(rows[1], (std::vector<std::string>{std::to_string(b), "plain", "8", "ptv2", "4", "all", "train/loss", "5",
                                                    "1.5", "10", "2.5"}));
        // Run a's points come by step; the quoted name reads back as it was.
        const std::vector<MetricPoint> stored = store.metrics(a);
        QCOMPARE(stored.size(), size_t(4));
        for (size_t i = 0; i < stored.size(); ++i) {
            const auto& row = rows[2 + i];
            QCOMPARE(row.size(), size_t(11));
            QCOMPARE(row[0], std::to_string(a));
            QCOMPARE(row[1], odd_name);
            QCOMPARE(row[2], std::string("7"));
            QCOMPARE(row[6], stored[i].key);
            QCOMPARE(row[7], std::to_string(stored[i].step));
            QCOMPARE(num(row[8]), stored[i].epoch);
            QCOMPARE(num(row[9]), stored[i].time);
            QCOMPARE(num(row[10]), stored[i].value);
        }
        // The raw text quotes the name exactly once, doubling its quotes.
        QVERIFY(out.str().find(std::to_string(a) + ",\"best, \"\"final\"\"\nrun\",7,ptv2,16,all,train/loss,1,0.01,0.5,") !=
                std::string::npos);
        QVERIFY_THROWS_EXCEPTION(Error, write_metrics_csv(store, {a, 12345}, out));
    }

    void summaryCsvHasTheUnionOfKeys() {
        Store store(fresh_db());
        RunRecord r1 = record("first, run", 1, 16, "completed");
        r1.started_at = 100;
        r1.finished_at = 190.5;
        r1.final_metrics_json = json{{"accuracy", 0.75}, {"loss", 0.5}}.dump();
        r1.best_metrics_json = json{{"accuracy", 0.8}}.dump();
        r1.best_step = 40;
        r1.trainable_params = 25;
        r1.total_params = 1000;
        r1.train_device = "cuda:0";
        r1.peak_mem_bytes = 123456789;
        r1.step_ms = 12.5;
        RunRecord r2 = record("second", 2, 8, "failed");
        r2.status_reason = "diverged";
        r2.final_metrics_json = json{{"f1", 0.5}}.dump();
        const int64_t id1 = store.create_run(r1), id2 = store.create_run(r2);
        store.set_train_stats(id1, r1.train_device, r1.peak_mem_bytes, r1.step_ms);

        std::ostringstream out;
        write_summary_csv(store, {id1, id2}, out);
        const auto rows = parse_csv(out.str());
        QCOMPARE(rows.size(), size_t(3));
        QCOMPARE(rows[0], (std::vector<std::string>{"id", "name", "status", "model", "dataset", "method", "prompt_len",
                                                    "layers", "seed", "trainable_params", "total_params", "trainable_share",
                                                    "best_step", "best/accuracy", "final/accuracy", "final/f1", "final/loss",
                                                    "duration_s", "train_device", "peak_mem_bytes", "step_ms"}));
        QCOMPARE(rows[1], (std::vector<std::string>{std::to_string(id1), "first, run", "completed", "builtin", "builtin",
                                                    "ptv2", "16", "all", "1", "25", "1000", "0.025", "40", "0.8", "0.75", "",
                                                    "0.5", "90.5", "cuda:0", "123456789", "12.5"}));
        QCOMPARE(rows[2], (std::vector<std::string>{std::to_string(id2), "second", "failed", "builtin", "builtin", "ptv2",
                                                    "8", "all", "2", "0", "0", "", "", "", "", "0.5", "", "0", "", "", ""}));
    }

    // The method comparison: one row per seed group, its costs averaged over the completed runs, the inference
    // overhead taken from the run's own latency rows (its method at its prompt length against the base model at
    // the same batch, length and device; merged LoRA beside it).
    void methodComparisonHoldsTheStoredNumbers() {
        Store store(fresh_db());
        auto method_spec = [](const std::string& name, int64_t seed, int64_t P) {
            json j = spec_json(seed, P);
            j["method"] = name == "ptv2" ? j["method"]
                                         : json{{"name", name}, {"lora_r", 4}, {"lora_alpha", 8}, {"target_modules", json::array({"query", "value"})}};
            return j;
        };
        auto add = [&](const std::string& method, int64_t seed, int64_t P, const std::string& status, double acc,
                       double step_ms, int64_t peak, int64_t trainable, const json& latency = json()) {
            RunRecord r = record(method + " " + std::to_string(seed), seed, P, status);
            r.method = method;
            json spec = method_spec(method, seed, P);
            if (!latency.is_null()) spec["latency"] = latency;
            r.spec_json = spec.dump();
            r.best_metrics_json = json{{"accuracy", acc}, {"loss", 0.5}}.dump();
            r.trainable_params = trainable;
            r.total_params = 10000;
            const int64_t id = store.create_run(r);
            store.set_train_stats(id, "cpu", peak, step_ms);
            return id;
        };
        const int64_t p1 = add("ptv2", 1, 16, "completed", 0.80, 10, 1000, 500);
        // p2 measured itself after training at batch 8 x 64 (its spec says so); the latency section does not
        // split the seed group.
        const int64_t p2 = add("ptv2", 2, 16, "completed", 0.70, 12, 3000, 500,
                               json{{"measure", true}, {"batch_size", 8}, {"seq_len", 64}});
        const int64_t p3 = add("ptv2", 3, 16, "failed", 0.10, 99, 99999, 500);   // not counted
        const int64_t l1 = add("lora", 1, 0, "completed", 0.75, 20, 2000, 800);
        // ptv2: an older sweep at P = 8 and the run's own P = 16 measurement; the overhead uses P = 16.
        store.add_latency(p1, {{"base", 8, 64, 0, 10.0, 11.0, "cpu", ""},
                               {"ptv2", 8, 64, 8, 10.5, 11.0, "cpu", ""},
                               {"ptv2", 8, 64, 16, 12.0, 13.0, "cpu", ""}});
        store.add_latency(p2, {{"base", 8, 64, 0, 20.0, 21.0, "cpu", ""}, {"ptv2", 8, 64, 16, 22.0, 23.0, "cpu", ""}});
        // Later measurements: p1's prompt-length sweep at the same configuration (a newer base row, not paired with
        // the P = 16 row measured before it), p2's at another configuration (not its own post-training one).
        store.add_latency(p1, {{"base", 8, 64, 0, 30.0, 31.0, "cpu", ""}, {"ptv2", 8, 64, 32, 33.0, 34.0, "cpu", ""}});
        store.add_latency(p2, {{"base", 1, 16, 0, 1.0, 1.1, "cpu", ""}, {"ptv2", 1, 16, 16, 5.0, 5.5, "cpu", ""}});
        store.add_latency(l1, {{"base", 1, 32, 0, 4.0, 4.5, "cpu", ""},
                               {"lora", 1, 32, 0, 5.0, 5.5, "cpu", ""},
                               {"lora-merged", 1, 32, 0, 4.2, 4.5, "cpu", ""}});
        const auto rows = compare_methods(store, {p1, p2, p3, l1});
        QCOMPARE(rows.size(), size_t(2));
        const MethodRow& p = rows[0];
        QCOMPARE(p.method, std::string("ptv2"));
        QCOMPARE(p.label(), std::string("P-Tuning v2 \u00b7 P=16, all layers"));
        QCOMPARE(p.group.run_ids, (std::vector<int64_t>{p1, p2, p3}));
        QCOMPARE(p.group.completed, 2);
        QCOMPARE(p.trainable_params, int64_t(500));
        QCOMPARE(p.trainable_share, 0.05);
        QCOMPARE(p.best.n, 2);
        QVERIFY(std::abs(p.best.mean - 0.75) < 1e-12);
        QVERIFY(std::abs(p.best.std - std::sqrt(0.005)) < 1e-12);
        QCOMPARE(p.step_ms.mean, 11.0);
        QCOMPARE(p.peak_mem_bytes.mean, 2000.0);
        QCOMPARE(p.train_device, std::string("cpu"));
        QCOMPARE(p.overhead.n, 2);
        QVERIFY(std::abs(p.overhead.mean - (0.2 + 0.1) / 2) < 1e-12);   // 12/10 - 1 and 22/20 - 1
        QCOMPARE(p.overhead_merged.n, 0);
        QCOMPARE(p.latency_config, std::string("batch 8 \u00d7 64 tokens, cpu"));
        const MethodRow& l = rows[1];
        QCOMPARE(l.method, std::string("lora"));
        QCOMPARE(l.label(), std::string("LoRA \u00b7 r=4, alpha=8, query+value"));
        QCOMPARE(l.best.std, 0.0);
        QVERIFY(std::abs(l.overhead.mean - 0.25) < 1e-12);
        QVERIFY(std::abs(l.overhead_merged.mean - 0.05) < 1e-12);

        std::ostringstream out;
        write_methods_csv(rows, out);
        const auto csv = parse_csv(out.str());
        QCOMPARE(csv.size(), size_t(3));
        QCOMPARE(csv[0].size(), size_t(27));
        QCOMPARE(csv[0][24], std::string("model"));
        QCOMPARE(csv[0][26], std::string("run_names"));
        QCOMPARE(csv[1][24], std::string("builtin"));
        QCOMPARE(csv[1][25], p.group.label);
        QCOMPARE(csv[1][26], std::string("ptv2 1; ptv2 2; ptv2 3"));
        QCOMPARE(csv[0][9], std::string("best_mean"));
        QCOMPARE(csv[1][0], std::string("ptv2"));
        QCOMPARE(csv[1][3], std::string("3"));   // runs
        QCOMPARE(csv[1][4], std::string("2"));   // completed
        QCOMPARE(std::stod(csv[1][9]), p.best.mean);
        QCOMPARE(csv[1][11], std::string("11"));
        QCOMPARE(csv[1][23], std::to_string(p1) + " " + std::to_string(p2) + " " + std::to_string(p3));
        QCOMPARE(csv[2][20], csv_number(l.overhead_merged.mean));
        QVERIFY_THROWS_EXCEPTION(Error, compare_methods(store, {p1, 999}));
    }

    // Two groups of one method on two models: each row names its model and its runs, so they do not look alike.
    void methodRowsNameModelAndRuns() {
        Store store(fresh_db());
        auto add = [&](const std::string& name, const std::string& model, int64_t seed) {
            RunRecord r = record(name, seed, 16, "completed");
            json spec = spec_json(seed, 16);
            spec["model"] = model;
            r.spec_json = spec.dump();
            r.model = model;
            r.best_metrics_json = json{{"accuracy", 0.5}}.dump();
            return store.create_run(r);
        };
        const int64_t a1 = add("sst2 base", "/models/bert-base", 1), a2 = add("sst2 base s2", "/models/bert-base", 2);
        const int64_t b1 = add("sst2 large", "/models/bert-large", 1);
        const auto rows = compare_methods(store, {a1, a2, b1});
        QCOMPARE(rows.size(), size_t(2));
        QCOMPARE(rows[0].label(), rows[1].label());   // the method and its settings alone do not tell them apart
        QCOMPARE(rows[0].model, std::string("/models/bert-base"));
        QCOMPARE(rows[1].model, std::string("/models/bert-large"));
        QCOMPARE(rows[0].run_names, (std::vector<std::string>{"sst2 base", "sst2 base s2"}));
        QCOMPARE(rows[1].run_names, (std::vector<std::string>{"sst2 large"}));
        std::ostringstream out;
        write_methods_csv(rows, out);
        const auto csv = parse_csv(out.str());
        QCOMPARE(csv[2][24], std::string("/models/bert-large"));
        QCOMPARE(csv[2][26], std::string("sst2 large"));
        QVERIFY(csv[1][25] != csv[2][25]);   // the groups' labels differ too
    }
};

QTEST_MAIN(TstCompare)
#include "tst_compare.moc"
