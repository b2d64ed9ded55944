// The run store: round trips, cascades, WAL, crash detection across processes, schema versions, bad files,
// bulk inserts and two connections on one file.
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <stdexcept>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/store.h"

using ptune::Store;

namespace {

// A plain connection for checking and setting up what the Store API does not expose.
class RawDb {
public:
    explicit RawDb(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot open " + path);
        sqlite3_busy_timeout(db_, 5000);
    }
    ~RawDb() { sqlite3_close_v2(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error(std::string(sql) + ": " + msg);
        }
    }
    // Rows of a query as text, with integer parameters bound in order.
    std::vector<std::vector<std::string>> rows(const char* sql, const std::vector<int64_t>& params = {}) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string(sql) + ": " + sqlite3_errmsg(db_));
        for (size_t i = 0; i < params.size(); ++i) sqlite3_bind_int64(st, static_cast<int>(i + 1), params[i]);
        std::vector<std::vector<std::string>> out;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                const unsigned char* t = sqlite3_column_text(st, c);
                row.push_back(t ? reinterpret_cast<const char*>(t) : "");
            }
            out.push_back(row);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) throw std::runtime_error(std::string(sql) + ": " + sqlite3_errmsg(db_));
        return out;
    }
    std::string one(const char* sql, const std::vector<int64_t>& params = {}) {
        auto r = rows(sql, params);
        if (r.size() != 1 || r[0].size() != 1) throw std::runtime_error(std::string(sql) + ": not one value");
        return r[0][0];
    }
    // Sets a run's owner (the Store records only its own pid and host).
    void set_owner(int64_t run, int64_t pid, const std::string& host) {
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db_, "UPDATE runs SET owner_pid = ?1, owner_host = ?2 WHERE id = ?3", -1, &st, nullptr);
        sqlite3_bind_int64(st, 1, pid);
        sqlite3_bind_text(st, 2, host.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, run);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE || sqlite3_changes(db_) != 1) throw std::runtime_error("set_owner failed");
    }

private:
    sqlite3* db_ = nullptr;
};

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ptune::Error& e) {
        return e.what();
    }
    return "(no ptune::Error)";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string host() {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
}

ptune::RunRecord sample_run() {
    ptune::RunRecord r;
    r.name = "sst2-ptv2-p16";
    r.status = "queued";
    r.status_reason = "";
    r.spec_json = "{\"version\":1,\"method\":\"ptv2\",\"prompt_len\":16,\"note\":\"quote ' and \\\" and ; DROP TABLE runs\"}";
    r.model = "models/tiny-bert";
    r.dataset = "data/sst2/train.jsonl";
    r.method = "ptv2";
    r.prompt_len = 16;
    r.layers = "last:3";
    r.seed = 1234567890123LL;
    r.suite = "prompt-length sweep";
    r.tags = "baseline,sweep";
    r.notes = "first try\nwith a second line — and UTF-8 ✓";
    r.final_metrics_json = "{\"accuracy\":0.875,\"loss\":0.3}";
    r.best_metrics_json = "{\"accuracy\":0.9}";
    r.best_step = 120;
    r.trainable_params = 98304;
    r.total_params = 4484098;
    return r;
}

// Exact equality (QCOMPARE is fuzzy for floating point).
#define EXACT(a, b)                                                                                       \
    QVERIFY2((a) == (b), (std::string(#a " == " #b ": ") + std::to_string(a) + " vs " + std::to_string(b)) \
                             .c_str())

}  // namespace

class TstStore : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh_path() { return (dir_.path() + QStringLiteral("/runs%1.db").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void createAndReopenKeepsEveryField() {
        const std::string path = fresh_path();
        const ptune::RunRecord in = sample_run();
        int64_t id = 0;
        double before = 0, after = 0;
        {
            Store s(path);
            QCOMPARE(s.path(), path);
            QCOMPARE(s.interrupted_on_open(), 0);
            QVERIFY(s.runs().empty());
            before = static_cast<double>(std::time(nullptr)) - 1;
            id = s.create_run(in);
            after = static_cast<double>(std::time(nullptr)) + 1;
            QVERIFY(id > 0);
            QVERIFY(!s.run(id + 1).has_value());
        }
        Store s(path);
        auto got = s.run(id);
        QVERIFY(got.has_value());
        const ptune::RunRecord& r = *got;
        EXACT(r.id, id);
        QCOMPARE(r.name, in.name);
        QCOMPARE(r.status, std::string("queued"));
        QCOMPARE(r.status_reason, std::string(""));
        QCOMPARE(r.spec_json, in.spec_json);
        QCOMPARE(r.model, in.model);
        QCOMPARE(r.dataset, in.dataset);
        QCOMPARE(r.method, in.method);
        EXACT(r.prompt_len, 16);
        QCOMPARE(r.layers, in.layers);
        EXACT(r.seed, 1234567890123LL);
        QCOMPARE(r.suite, in.suite);
        QCOMPARE(r.tags, in.tags);
        QCOMPARE(r.notes, in.notes);
        QVERIFY(r.created_at >= before && r.created_at <= after);
        EXACT(r.started_at, 0.0);
        EXACT(r.finished_at, 0.0);
        QCOMPARE(r.final_metrics_json, in.final_metrics_json);
        QCOMPARE(r.best_metrics_json, in.best_metrics_json);
        EXACT(r.best_step, int64_t(120));
        EXACT(r.trainable_params, int64_t(98304));
        EXACT(r.total_params, int64_t(4484098));
        EXACT(r.owner_pid, int64_t(0));
        QCOMPARE(r.owner_host, std::string(""));

        // An empty status means queued; start and finish fill the run's life.
        ptune::RunRecord plain;
        plain.name = "second";
        plain.status = "";
        const int64_t id2 = s.create_run(plain);
        QCOMPARE(s.run(id2)->status, std::string("queued"));
        QCOMPARE(s.run(id2)->final_metrics_json, std::string("{}"));
        EXACT(s.run(id2)->best_step, int64_t(-1));
        s.start_run(id2);
        {
            auto r2 = *s.run(id2);
            QCOMPARE(r2.status, std::string("running"));
            EXACT(r2.owner_pid, int64_t(getpid()));
            QCOMPARE(r2.owner_host, host());
            QVERIFY(r2.started_at >= r2.created_at);
        }
        s.finish_run(id2, "failed", "out of memory at step 7", "{\"loss\":2.5}", "{\"loss\":2.25}", 5);
        {
            Store again(path);
            auto r2 = *again.run(id2);
            QCOMPARE(r2.status, std::string("failed"));
            QCOMPARE(r2.status_reason, std::string("out of memory at step 7"));
            QCOMPARE(r2.final_metrics_json, std::string("{\"loss\":2.5}"));
            QCOMPARE(r2.best_metrics_json, std::string("{\"loss\":2.25}"));
            EXACT(r2.best_step, int64_t(5));
            QVERIFY(r2.finished_at >= r2.started_at && r2.started_at > 0);
            // Newest first.
            auto all = again.runs();
            QCOMPARE(all.size(), size_t(2));
            EXACT(all[0].id, id2);
            EXACT(all[1].id, id);
            QCOMPARE(all[1].spec_json, in.spec_json);
        }

        // Misuse names the file.
        QCOMPARE(error_of([&] { s.finish_run(id2, "running", "", "{}", "{}", -1); }),
                 path + ": 'running' is not a status a run can finish with");
        QCOMPARE(error_of([&] { s.start_run(999); }), path + ": no run with id 999");
        QCOMPARE(error_of([&] { s.add_metrics(999, {{1, 0, 0, "x", 1}}); }), path + ": no run with id 999");
        ptune::RunRecord bad;
        bad.status = "paused";
        QCOMPARE(error_of([&] { s.create_run(bad); }), path + ": unknown run status 'paused'");
    }

    void seriesRoundTrip() {
        const std::string path = fresh_path();
        int64_t id = 0, other = 0;
        {
            Store s(path);
            id = s.create_run(sample_run());
            other = s.create_run(sample_run());
            // Inserted out of step order, in two batches.
            s.add_metrics(id, {{2, 0.5, 1.25, "train/loss", 0.6931471805599453},
                               {1, 0.25, 0.625, "train/loss", 1.0986122886681098},
                               {1, 0.25, 0.625, "train/lr", 1e-3}});
            s.add_metrics(id, {{3, 0.75, 2.0, "eval/accuracy", 0.8125}, {3, 0.75, 1.875, "train/loss", 0.1}});
            s.add_metrics(other, {{1, 0.0, 0.0, "train/loss", 9.0}});
            s.add_metrics(id, {});
            s.add_prompt_norms(id, {{10, 1, 3.5, 4.5}, {0, 1, 1.5, 2.5}, {0, 0, 0.1, 0.2}, {10, 0, 3.25, 4.25}});
            s.add_latency(id, {{"base", 8, 128, 0, 4.125, 5.5, "cpu", ""}, {"ptv2", 8, 128, 16, 4.375, 6.0, "cuda:0", ""}});
            s.add_artifact(id, {"checkpoint", "runs/1/ckpt-100", 1700000000.5});
            s.add_artifact(id, {"best_checkpoint", "runs/1/best", 1700000001.25});
            s.add_artifact(id, {"peft_adapter", "runs/1/adapter", 0});  // 0: stamped now
        }
        Store s(path);
        auto m = s.metrics(id);
        QCOMPARE(m.size(), size_t(5));
        // Step order; insertion order within a step.
        EXACT(m[0].step, int64_t(1));
        QCOMPARE(m[0].key, std::string("train/loss"));
        EXACT(m[0].value, 1.0986122886681098);
        EXACT(m[0].epoch, 0.25);
        EXACT(m[0].time, 0.625);
        QCOMPARE(m[1].key, std::string("train/lr"));
        EXACT(m[1].value, 1e-3);
        EXACT(m[2].step, int64_t(2));
        EXACT(m[2].value, 0.6931471805599453);
        EXACT(m[2].time, 1.25);
        QCOMPARE(m[3].key, std::string("eval/accuracy"));
        EXACT(m[3].value, 0.8125);
        QCOMPARE(m[4].key, std::string("train/loss"));
        EXACT(m[4].value, 0.1);
        EXACT(m[4].time, 1.875);

        auto loss = s.metrics(id, "train/loss");
        QCOMPARE(loss.size(), size_t(3));
        EXACT(loss[0].step, int64_t(1));
        EXACT(loss[1].step, int64_t(2));
        EXACT(loss[2].step, int64_t(3));
        EXACT(loss[2].value, 0.1);
        QVERIFY(s.metrics(id, "no/such").empty());
        QCOMPARE(s.metric_keys(id), (std::vector<std::string>{"eval/accuracy", "train/loss", "train/lr"}));
        QCOMPARE(s.metric_keys(other), (std::vector<std::string>{"train/loss"}));
        QVERIFY(s.metric_keys(999).empty());

        auto latest = s.latest_metrics(id);
        QCOMPARE(latest.size(), size_t(3));
        EXACT(latest.at("train/loss"), 0.1);
        EXACT(latest.at("train/lr"), 1e-3);
        EXACT(latest.at("eval/accuracy"), 0.8125);
        QVERIFY(s.latest_metrics(999).empty());

        auto n = s.prompt_norms(id);
        QCOMPARE(n.size(), size_t(4));
        EXACT(n[0].step, int64_t(0));
        EXACT(n[0].layer, 0);
        EXACT(n[0].key_norm, 0.1);
        EXACT(n[0].value_norm, 0.2);
        EXACT(n[1].step, int64_t(0));
        EXACT(n[1].layer, 1);
        EXACT(n[1].key_norm, 1.5);
        EXACT(n[2].step, int64_t(10));
        EXACT(n[2].layer, 0);
        EXACT(n[2].value_norm, 4.25);
        EXACT(n[3].layer, 1);
        EXACT(n[3].key_norm, 3.5);
        EXACT(n[3].value_norm, 4.5);
        QVERIFY(s.prompt_norms(other).empty());

        auto l = s.latency(id);
        QCOMPARE(l.size(), size_t(2));
        QCOMPARE(l[0].method, std::string("base"));
        EXACT(l[0].batch_size, 8);
        EXACT(l[0].seq_len, 128);
        EXACT(l[0].prompt_len, 0);
        EXACT(l[0].median_ms, 4.125);
        EXACT(l[0].p90_ms, 5.5);
        QCOMPARE(l[0].device, std::string("cpu"));
        QCOMPARE(l[1].method, std::string("ptv2"));
        EXACT(l[1].prompt_len, 16);
        EXACT(l[1].median_ms, 4.375);
        EXACT(l[1].p90_ms, 6.0);
        QCOMPARE(l[1].device, std::string("cuda:0"));

        auto a = s.artifacts(id);
        QCOMPARE(a.size(), size_t(3));
        QCOMPARE(a[0].kind, std::string("checkpoint"));
        QCOMPARE(a[0].path, std::string("runs/1/ckpt-100"));
        EXACT(a[0].created_at, 1700000000.5);
        QCOMPARE(a[1].kind, std::string("best_checkpoint"));
        EXACT(a[1].created_at, 1700000001.25);
        QCOMPARE(a[2].kind, std::string("peft_adapter"));
        QVERIFY(a[2].created_at > 1700000001.25);
        QVERIFY(s.artifacts(other).empty());
    }

    void deleteCascades() {
        const std::string path = fresh_path();
        int64_t gone = 0, kept = 0;
        {
            Store s(path);
            gone = s.create_run(sample_run());
            kept = s.create_run(sample_run());
            for (int64_t id : {gone, kept}) {
                s.add_metrics(id, {{1, 0, 0, "train/loss", 1.0}, {2, 0, 0, "train/loss", 0.5}});
                s.add_prompt_norms(id, {{1, 0, 1.0, 2.0}});
                s.add_latency(id, {{"ptv2", 1, 64, 8, 1.0, 2.0, "cpu", ""}});
                s.add_artifact(id, {"checkpoint", "ckpt", 1.0});
            }
            s.delete_run(gone);
            QVERIFY(!s.run(gone).has_value());
            QVERIFY(s.metrics(gone).empty());
            QVERIFY(s.prompt_norms(gone).empty());
            QVERIFY(s.latency(gone).empty());
            QVERIFY(s.artifacts(gone).empty());
            QCOMPARE(s.runs().size(), size_t(1));
            QCOMPARE(s.metrics(kept).size(), size_t(2));
            QCOMPARE(error_of([&] { s.delete_run(gone); }), path + ": no run with id " + std::to_string(gone));
        }
        RawDb raw(path);
        for (const char* sql : {"SELECT count(*) FROM metrics WHERE run_id = ?1",
                                "SELECT count(*) FROM prompt_norms WHERE run_id = ?1",
                                "SELECT count(*) FROM latency WHERE run_id = ?1",
                                "SELECT count(*) FROM artifacts WHERE run_id = ?1"}) {
            QCOMPARE(raw.one(sql, {gone}), std::string("0"));
            QCOMPARE(raw.one(sql, {kept}), std::string(std::strstr(sql, "metrics") ? "2" : "1"));
        }
        // A deleted id is not handed out again.
        Store s(path);
        QVERIFY(s.create_run(sample_run()) > kept);
    }

    void updateRunChangesNameTagsNotes() {
        const std::string path = fresh_path();
        Store s(path);
        const int64_t id = s.create_run(sample_run());
        auto r = *s.run(id);
        r.name = "renamed";
        r.tags = "keep,best";
        r.notes = "";
        r.trainable_params = 7;
        r.total_params = 70;
        r.model = "ignored: update_run does not change the model";
        r.status = "completed";  // nor the status
        s.update_run(r);
        Store reader(path);
        auto got = *reader.run(id);
        QCOMPARE(got.name, std::string("renamed"));
        QCOMPARE(got.tags, std::string("keep,best"));
        QCOMPARE(got.notes, std::string(""));
        EXACT(got.trainable_params, int64_t(7));
        EXACT(got.total_params, int64_t(70));
        QCOMPARE(got.model, sample_run().model);
        QCOMPARE(got.status, std::string("queued"));
        ptune::RunRecord missing;
        missing.id = 4242;
        QCOMPARE(error_of([&] { s.update_run(missing); }), path + ": no run with id 4242");
    }

    void walModeIsOn() {
        const std::string path = fresh_path();
        Store s(path);
        RawDb raw(path);
        QCOMPARE(raw.one("PRAGMA journal_mode"), std::string("wal"));
        QCOMPARE(raw.one("PRAGMA user_version"), std::to_string(Store::kSchemaVersion));
        // The cascade is declared on every series table.
        for (const char* t : {"metrics", "prompt_norms", "latency", "artifacts"}) {
            std::string sql = std::string("SELECT \"table\", \"on_delete\" FROM pragma_foreign_key_list('") + t + "')";
            auto fk = raw.rows(sql.c_str());
            QCOMPARE(fk.size(), size_t(1));
            QCOMPARE(fk[0][0], std::string("runs"));
            QCOMPARE(fk[0][1], std::string("CASCADE"));
        }
    }

    void crashedProcessLeavesRunInterrupted() {
        const std::string path = fresh_path();
        { Store init(path); }  // closed again: no connection of this process is open across fork()
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            try {
                Store s(path);
                ptune::RunRecord r = sample_run();
                r.name = "doomed";
                const int64_t id = s.create_run(r);
                s.start_run(id);
                std::vector<ptune::MetricPoint> pts;
                for (int i = 0; i < 50; ++i) pts.push_back({i, i / 10.0, i * 0.5, "train/loss", 1.0 / (i + 1)});
                s.add_metrics(id, pts);
                s.add_prompt_norms(id, {{0, 0, 1.5, 2.5}});
            } catch (...) {
                _exit(3);
            }
            _exit(0);  // never finishes the run, never closes the store
        }
        int status = 0;
        QCOMPARE(waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 0);

        Store s(path);
        QCOMPARE(s.interrupted_on_open(), 1);
        auto all = s.runs();
        QCOMPARE(all.size(), size_t(1));
        const auto& r = all[0];
        QCOMPARE(r.name, std::string("doomed"));
        QCOMPARE(r.status, std::string("interrupted"));
        QCOMPARE(r.status_reason,
                 "the process running it ended before it finished (pid " + std::to_string(child) + ")");
        EXACT(r.owner_pid, int64_t(child));
        QCOMPARE(r.owner_host, host());
        auto m = s.metrics(r.id, "train/loss");
        QCOMPARE(m.size(), size_t(50));
        EXACT(m[0].value, 1.0);
        EXACT(m[49].step, int64_t(49));
        EXACT(m[49].value, 1.0 / 50);
        EXACT(m[49].time, 24.5);
        QCOMPARE(s.prompt_norms(r.id).size(), size_t(1));

        // Marked once: the next open finds nothing to mark.
        Store again(path);
        QCOMPARE(again.interrupted_on_open(), 0);
        QCOMPARE(again.run(r.id)->status, std::string("interrupted"));
    }

    void liveOwnersAreNotMarked() {
        const std::string path = fresh_path();
        { Store init(path); }
        // A live child that waits until the pipe closes.
        int fds[2];
        QCOMPARE(pipe(fds), 0);
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            close(fds[1]);
            char c;
            while (read(fds[0], &c, 1) > 0) {
            }
            _exit(0);
        }
        close(fds[0]);

        int64_t mine = 0, childs = 0, elsewhere = 0;
        {
            Store s(path);
            mine = s.create_run(sample_run());
            childs = s.create_run(sample_run());
            elsewhere = s.create_run(sample_run());
            for (int64_t id : {mine, childs, elsewhere}) s.start_run(id);
        }
        {
            RawDb raw(path);
            raw.set_owner(childs, child, host());
            raw.set_owner(elsewhere, child, "another-host.example");
        }
        {
            // This process (mine) and the child (childs) are alive; the other host is not ours to judge.
            Store s(path);
            QCOMPARE(s.interrupted_on_open(), 0);
            for (int64_t id : {mine, childs, elsewhere}) QCOMPARE(s.run(id)->status, std::string("running"));
        }
        close(fds[1]);
        int status = 0;
        QCOMPARE(waitpid(child, &status, 0), child);
        {
            Store s(path);
            QCOMPARE(s.interrupted_on_open(), 1);
            QCOMPARE(s.run(childs)->status, std::string("interrupted"));
            QCOMPARE(s.run(childs)->status_reason,
                     "the process running it ended before it finished (pid " + std::to_string(child) + ")");
            QCOMPARE(s.run(mine)->status, std::string("running"));
            QCOMPARE(s.run(elsewhere)->status, std::string("running"));
            QCOMPARE(s.run(elsewhere)->status_reason, std::string(""));
            s.finish_run(mine, "completed", "", "{}", "{}", -1);
            QCOMPARE(s.run(mine)->status, std::string("completed"));
        }
    }

    // Deleting a run another process is training is refused, in the store itself (the workbench and any other
    // process go through it); once that process is gone the run can be deleted. A run owned on another host
    // cannot be checked from here and is refused too.
    void deletingARunAnotherProcessTrainsIsRefused() {
        const std::string path = fresh_path();
        { Store init(path); }
        int ready[2], hold[2];
        QCOMPARE(pipe(ready), 0);
        QCOMPARE(pipe(hold), 0);
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            close(ready[0]);
            close(hold[1]);
            try {
                Store s(path);
                const int64_t id = s.create_run(sample_run());
                s.start_run(id);
                s.add_metrics(id, {{0, 0.0, 0.0, "train/loss", 1.0}});
            } catch (...) {
                _exit(3);
            }
            char c = 1;
            if (write(ready[1], &c, 1) != 1) _exit(4);
            while (read(hold[0], &c, 1) > 0) {
            }
            _exit(0);   // never finishes the run
        }
        close(ready[1]);
        close(hold[0]);
        char c = 0;
        QCOMPARE(read(ready[0], &c, 1), ssize_t(1));
        Store s(path);
        QCOMPARE(s.runs().size(), size_t(1));
        const int64_t id = s.runs()[0].id;
        try {
            s.delete_run(id);
            QFAIL("deleting a run another process is training must be refused");
        } catch (const ptune::Error& e) {
            const std::string m = e.what();
            QVERIFY2(m.find("being trained") != std::string::npos && m.find(std::to_string(child)) != std::string::npos,
                     e.what());
        }
        QCOMPARE(s.metrics(id, "train/loss").size(), size_t(1));   // nothing was removed
        close(hold[1]);
        int status = 0;
        QCOMPARE(waitpid(child, &status, 0), child);
        QCOMPARE(WEXITSTATUS(status), 0);
        QCOMPARE(s.run(id)->status, std::string("running"));   // its owner died after this store opened
        s.delete_run(id);
        QVERIFY(!s.run(id));

        const int64_t far = s.create_run(sample_run());
        s.start_run(far);
        {
            RawDb raw(path);
            raw.set_owner(far, 1, "another-host.example");
        }
        QVERIFY_THROWS_EXCEPTION(ptune::Error, s.delete_run(far));
        QVERIFY(s.run(far));
    }

    void newerSchemaIsRefused() {
        const std::string path = fresh_path();
        {
            RawDb raw(path);
            raw.exec("CREATE TABLE future (x)");
            raw.exec("PRAGMA user_version = 99");
        }
        QCOMPARE(error_of([&] { Store s(path); }),
                 path + ": made by a newer ptune (schema 99, this build reads up to " +
                     std::to_string(Store::kSchemaVersion) + ")");
        RawDb raw(path);
        QCOMPARE(raw.one("PRAGMA user_version"), std::string("99"));  // left as it was
        QCOMPARE(raw.one("PRAGMA journal_mode"), std::string("delete"));
    }

    void nonDatabaseFileIsRefused() {
        const std::string path = (dir_.path() + QStringLiteral("/notes.txt")).toStdString();
        std::string text;
        for (int i = 0; i < 40; ++i) text += "this is a text file, not a database; line " + std::to_string(i) + "\n";
        {
            std::ofstream out(path, std::ios::binary);
            out << text;
        }
        const std::string err = error_of([&] { Store s(path); });
        QCOMPARE(err, path + ": not a SQLite database, so not a ptune run store (file is not a database)");
        QCOMPARE(read_file(path), text);  // untouched

        const std::string nodir = (dir_.path() + QStringLiteral("/no/such/dir/runs.db")).toStdString();
        const std::string err2 = error_of([&] { Store s(nodir); });
        QVERIFY2(err2.rfind(nodir + ": cannot open the run store", 0) == 0, err2.c_str());
    }

    void foreignSqliteDatabaseIsRefused() {
        const std::string path = fresh_path();
        {
            RawDb raw(path);
            raw.exec("CREATE TABLE contacts (name TEXT)");
        }
        QCOMPARE(error_of([&] { Store s(path); }),
                 path + ": a SQLite database that is not a ptune run store (it has tables but no schema version)");
        RawDb raw(path);
        QCOMPARE(raw.one("SELECT count(*) FROM sqlite_master"), std::string("1"));  // nothing added
    }

    void migratesAnEmptyFile() {
        const std::string path = fresh_path();
        { std::ofstream touch(path, std::ios::binary); }
        QCOMPARE(read_file(path).size(), size_t(0));
        {
            Store s(path);
            QVERIFY(s.runs().empty());
        }
        RawDb raw(path);
        QCOMPARE(raw.one("PRAGMA user_version"), std::string("5"));
        std::set<std::string> tables;
        for (auto& row : raw.rows("SELECT name FROM sqlite_master WHERE type = 'table'")) tables.insert(row[0]);
        QCOMPARE(tables, (std::set<std::string>{"runs", "metrics", "prompt_norms", "latency", "artifacts", "samples",
                                                 "sqlite_sequence"}));
        auto idx = raw.rows("SELECT name FROM pragma_index_info('metrics_run_key_step') ORDER BY seqno");
        QCOMPARE(idx.size(), size_t(3));
        QCOMPARE(idx[0][0], std::string("run_id"));
        QCOMPARE(idx[1][0], std::string("key"));
        QCOMPARE(idx[2][0], std::string("step"));
        std::set<std::string> run_cols;
        for (auto& row : raw.rows("SELECT name FROM pragma_table_info('runs')")) run_cols.insert(row[0]);
        QCOMPARE(run_cols.size(), size_t(28));
        QVERIFY(run_cols.count("owner_pid") && run_cols.count("owner_host") && run_cols.count("best_metrics_json"));
        QVERIFY(run_cols.count("train_device") && run_cols.count("peak_mem_bytes") && run_cols.count("step_ms"));
        QVERIFY(run_cols.count("environment"));
        // Opening a current store again changes nothing.
        { Store s(path); }
        QCOMPARE(raw.one("PRAGMA user_version"), std::string("5"));
    }

    // A store written by the first schema (no training costs) opens with its runs intact and gains the columns.
    void migratesVersionOneStore() {
        const std::string path = fresh_path();
        int64_t id = 0;
        {
            Store s(path);
            id = s.create_run(sample_run());
            s.add_metrics(id, {{1, 0.1, 0.5, "train/loss", 0.69}});
        }
        {
            RawDb raw(path);
            raw.exec("ALTER TABLE runs DROP COLUMN train_device");
            raw.exec("ALTER TABLE runs DROP COLUMN peak_mem_bytes");
            raw.exec("ALTER TABLE runs DROP COLUMN step_ms");
            raw.exec("DROP TABLE samples");
            raw.exec("ALTER TABLE latency DROP COLUMN phase");
            raw.exec("ALTER TABLE runs DROP COLUMN environment");
            raw.exec("PRAGMA user_version = 1");
        }
        Store s(path);
        RawDb raw(path);
        QCOMPARE(raw.one("PRAGMA user_version"), std::string("5"));
        auto r = s.run(id);
        QVERIFY(r.has_value());
        QCOMPARE(r->name, sample_run().name);
        QCOMPARE(r->train_device, std::string(""));
        EXACT(r->peak_mem_bytes, int64_t(0));
        QCOMPARE(s.metrics(id, "train/loss").size(), size_t(1));
        s.set_train_stats(id, "cpu", 123456789012LL, 4.25);
        r = s.run(id);
        QCOMPARE(r->train_device, std::string("cpu"));
        EXACT(r->peak_mem_bytes, int64_t(123456789012LL));
        QCOMPARE(r->step_ms, 4.25);
        QCOMPARE(error_of([&] { s.set_train_stats(id + 99, "cpu", 1, 1); }),
                 path + ": no run with id " + std::to_string(id + 99));
        // The environment column came with the migration: empty for old runs, then as set.
        QCOMPARE(r->environment, std::string(""));
        s.set_environment(id, "{\"libtorch\":\"1.13.0\"}");
        QCOMPARE(s.run(id)->environment, std::string("{\"libtorch\":\"1.13.0\"}"));
    }

    // A schema-2 store (before causal LMs' samples) gains the samples table; its rows round-trip and go with the run.
    void migratesVersionTwoStoreAndSamplesRoundTrip() {
        const std::string path = fresh_path();
        int64_t id = 0;
        {
            Store s(path);
            id = s.create_run(sample_run());
        }
        {
            RawDb raw(path);
            raw.exec("DROP TABLE samples");
            raw.exec("ALTER TABLE latency DROP COLUMN phase");
            raw.exec("ALTER TABLE runs DROP COLUMN environment");
            raw.exec("PRAGMA user_version = 2");
        }
        Store s(path);
        RawDb raw(path);
        QCOMPARE(raw.one("PRAGMA user_version"), std::string("5"));
        QVERIFY(s.samples(id).empty());
        s.add_samples(id, {{20, 1, "Review : b Sentiment : ", "negative", "box", "negative"},
                           {20, 0, "Review : a Sentiment : ", "positive", "plot", "négatif \xF0\x9F\x98\x80"}});
        auto rows = s.samples(id);
        QCOMPARE(rows.size(), size_t(2));
        QCOMPARE(rows[0].index, 0);
        QCOMPARE(rows[0].adapted, std::string("négatif \xF0\x9F\x98\x80"));
        QCOMPARE(rows[1].prompt, std::string("Review : b Sentiment : "));
        QCOMPARE(error_of([&] { s.add_samples(id + 99, {{1, 0, "p", "t", "b", "a"}}); }),
                 path + ": no run with id " + std::to_string(id + 99));
        s.delete_run(id);
        QCOMPARE(raw.one("SELECT COUNT(*) FROM samples"), std::string("0"));
    }

    // A schema-3 store (latency without phases) keeps its rows, read as single forward passes (phase ""); a causal
    // LM's two phases round-trip.
    void migratesVersionThreeStoreAndLatencyPhases() {
        const std::string path = fresh_path();
        int64_t id = 0;
        {
            Store s(path);
            id = s.create_run(sample_run());
        }
        {
            RawDb raw(path);
            raw.exec("ALTER TABLE latency DROP COLUMN phase");
            const std::string insert = "INSERT INTO latency (run_id, method, batch_size, seq_len, prompt_len, median_ms, "
                                       "p90_ms, device) VALUES (" + std::to_string(id) + ", 'ptv2', 1, 64, 8, 2.5, 3.0, 'cpu')";
            raw.exec(insert.c_str());
            raw.exec("ALTER TABLE runs DROP COLUMN environment");
            raw.exec("PRAGMA user_version = 3");
        }
        Store s(path);
        RawDb raw(path);
        QCOMPARE(raw.one("PRAGMA user_version"), std::string("5"));
        s.add_latency(id, {{"ptv2", 1, 64, 8, 7.5, 8.0, "cpu", "first_token"}, {"base", 1, 64, 0, 1.25, 1.5, "cpu", "per_token"}});
        auto rows = s.latency(id);
        QCOMPARE(rows.size(), size_t(3));
        QCOMPARE(rows[0].phase, std::string(""));
        QCOMPARE(rows[0].median_ms, 2.5);
        QCOMPARE(rows[1].phase, std::string("first_token"));
        QCOMPARE(rows[1].median_ms, 7.5);
        QCOMPARE(rows[2].phase, std::string("per_token"));
        QCOMPARE(rows[2].method, std::string("base"));
    }

    void hundredThousandMetricPoints() {
        const std::string path = fresh_path();
        Store s(path);
        const int64_t id = s.create_run(sample_run());
        const char* keys[] = {"train/loss", "train/lr", "train/samples_per_s", "eval/loss"};
        std::vector<ptune::MetricPoint> pts;
        pts.reserve(100000);
        for (int i = 0; i < 100000; ++i) pts.push_back({i / 4, i / 100000.0, i * 0.001, keys[i % 4], i * 0.5});
        QElapsedTimer t;
        t.start();
        s.add_metrics(id, pts);
        const qint64 insert_ms = t.elapsed();
        qInfo("100000 metric points inserted in %lld ms", static_cast<long long>(insert_ms));

        Store reader(path);
        t.restart();
        auto all = reader.metrics(id);
        qInfo("100000 metric points read in %lld ms", static_cast<long long>(t.elapsed()));
        QCOMPARE(all.size(), size_t(100000));
        EXACT(all[0].step, int64_t(0));
        QCOMPARE(all[0].key, std::string("train/loss"));
        EXACT(all[99999].step, int64_t(24999));
        QCOMPARE(all[99999].key, std::string("eval/loss"));
        EXACT(all[99999].value, 49999.5);

        auto lr = reader.metrics(id, "train/lr");
        QCOMPARE(lr.size(), size_t(25000));
        EXACT(lr[0].value, 0.5);
        EXACT(lr[1000].step, int64_t(1000));
        EXACT(lr[1000].value, 2000.5);       // i = 4001
        EXACT(lr[1000].time, 4001 * 0.001);
        EXACT(lr[1000].epoch, 4001 / 100000.0);
        EXACT(lr[24999].value, 49998.5);     // i = 99997
        QCOMPARE(reader.metric_keys(id),
                 (std::vector<std::string>{"eval/loss", "train/loss", "train/lr", "train/samples_per_s"}));
        auto latest = reader.latest_metrics(id);
        EXACT(latest.at("train/loss"), 49998.0);
        EXACT(latest.at("eval/loss"), 49999.5);
    }

    void twoStoresOnOneFile() {
        const std::string path = fresh_path();
        Store writer(path);
        Store reader(path);
        QVERIFY(reader.runs().empty());
        const int64_t id = writer.create_run(sample_run());
        writer.start_run(id);
        QCOMPARE(reader.runs().size(), size_t(1));
        QCOMPARE(reader.run(id)->status, std::string("running"));
        for (int batch = 0; batch < 5; ++batch) {
            std::vector<ptune::MetricPoint> pts;
            for (int i = 0; i < 10; ++i) pts.push_back({batch * 10 + i, 0.0, 0.0, "train/loss", batch + i * 0.25});
            writer.add_metrics(id, pts);
            auto seen = reader.metrics(id, "train/loss");
            QCOMPARE(seen.size(), size_t((batch + 1) * 10));
            EXACT(seen.back().value, batch + 9 * 0.25);
        }
        // A third store opened while the run is going (same process) does not mark it.
        {
            Store third(path);
            QCOMPARE(third.interrupted_on_open(), 0);
            QCOMPARE(third.run(id)->status, std::string("running"));
        }
        // A reader is not blocked by an open write transaction, and does not see it until it commits.
        {
            RawDb other(path);
            other.exec("BEGIN IMMEDIATE");
            other.exec("INSERT INTO metrics (run_id, step, epoch, time, key, value) "
                       "SELECT id, 1000, 0, 0, 'train/loss', 7 FROM runs");
            QCOMPARE(reader.metrics(id, "train/loss").size(), size_t(50));
            other.exec("COMMIT");
            QCOMPARE(reader.metrics(id, "train/loss").size(), size_t(51));
            EXACT(reader.latest_metrics(id).at("train/loss"), 7.0);
        }
        writer.finish_run(id, "completed", "", "{\"loss\":0.5}", "{\"loss\":0.25}", 40);
        QCOMPARE(reader.run(id)->status, std::string("completed"));
        QCOMPARE(reader.run(id)->best_metrics_json, std::string("{\"loss\":0.25}"));
        reader.update_run(*reader.run(id));  // the reader may write too
        writer.delete_run(id);
        QVERIFY(reader.runs().empty());
        QVERIFY(reader.metrics(id).empty());
    }
};

QTEST_APPLESS_MAIN(TstStore)
#include "tst_store.moc"
