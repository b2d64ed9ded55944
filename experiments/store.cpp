// The run store on the sqlite3 C API. Every value reaches SQL through a bound parameter; the only SQL text
// built at run time is fixed schema and pragma text.
#include "experiments/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <unordered_map>
#include <utility>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

namespace ptune {

namespace {

double now_seconds() {
    using namespace std::chrono;
    return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
    buf[sizeof(buf) - 1] = '\0';
    return buf;
}

bool process_alive(int64_t pid) {
    if (pid <= 0) return false;
    if (pid == static_cast<int64_t>(getpid())) return true;
    if (kill(static_cast<pid_t>(pid), 0) == 0) return true;
    return errno != ESRCH;  // EPERM: it exists but belongs to someone else
}

[[noreturn]] void fail(const std::string& path, sqlite3* db, const std::string& what) {
    std::string msg = path + ": " + what;
    if (db) msg += " (" + std::string(sqlite3_errmsg(db)) + ")";
    throw Error(msg);
}

// A prepared statement. bind() indices start at 1, column() indices at 0.
class Stmt {
public:
    Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(&path) {
        if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
            fail(path, db, std::string("cannot prepare \"") + sql + "\"");
    }
    ~Stmt() { sqlite3_finalize(st_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    void bind(int i, int64_t v) { check(sqlite3_bind_int64(st_, i, v)); }
    void bind(int i, int v) { check(sqlite3_bind_int(st_, i, v)); }
    void bind(int i, double v) { check(sqlite3_bind_double(st_, i, v)); }
    // The text must outlive the step that uses it (SQLITE_STATIC: no copy).
    void bind(int i, const std::string& v) {
        check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC));
    }

    // true: a row is ready; false: done.
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(*path_, db_, std::string("\"") + sqlite3_sql(st_) + "\" failed");
    }
    void run() {
        while (step()) {
        }
    }
    void reset() {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }

    int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
    int i32(int c) const { return sqlite3_column_int(st_, c); }
    double f64(int c) const { return sqlite3_column_double(st_, c); }
    std::string text(int c) const {
        const unsigned char* p = sqlite3_column_text(st_, c);
        if (!p) return "";
        return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, c)));
    }

private:
    void check(int rc) {
        if (rc != SQLITE_OK) fail(*path_, db_, "cannot bind a parameter");
    }
    sqlite3* db_;
    const std::string* path_;
    sqlite3_stmt* st_ = nullptr;
};

// Resets a (cached) statement when the scope that uses it ends, also on an exception.
class Use {
public:
    explicit Use(Stmt& s) : s_(s) {}
    ~Use() { s_.reset(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    Stmt* operator->() { return &s_; }
    Stmt& operator*() { return s_; }

private:
    Stmt& s_;
};

void exec(sqlite3* db, const std::string& path, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        throw Error(path + ": \"" + sql + "\" failed (" + msg + ")");
    }
}

// A write transaction, taken at once (BEGIN IMMEDIATE) so that it waits on busy_timeout instead of failing
// when it would upgrade from a read. Rolled back unless committed.
class Txn {
public:
    Txn(sqlite3* db, const std::string& path) : db_(db), path_(path) { exec(db, path, "BEGIN IMMEDIATE"); }
    ~Txn() {
        if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    void commit() {
        exec(db_, path_, "COMMIT");
        done_ = true;
    }

private:
    sqlite3* db_;
    const std::string& path_;
    bool done_ = false;
};

// Migration k -> k+1 is kMigrations[k]. Version 0 is an empty file.
const char* const kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'queued',
    status_reason TEXT NOT NULL DEFAULT '',
    spec_json TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    dataset TEXT NOT NULL DEFAULT '',
    method TEXT NOT NULL DEFAULT '',
    prompt_len INTEGER NOT NULL DEFAULT 0,
    layers TEXT NOT NULL DEFAULT '',
    seed INTEGER NOT NULL DEFAULT 0,
    suite TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    started_at REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL DEFAULT 0,
    final_metrics_json TEXT NOT NULL DEFAULT '{}',
    best_metrics_json TEXT NOT NULL DEFAULT '{}',
    best_step INTEGER NOT NULL DEFAULT -1,
    trainable_params INTEGER NOT NULL DEFAULT 0,
    total_params INTEGER NOT NULL DEFAULT 0,
    owner_pid INTEGER NOT NULL DEFAULT 0,
    owner_host TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_created ON runs(created_at);
CREATE INDEX runs_status ON runs(status);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch REAL NOT NULL,
    time REAL NOT NULL,
    key TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step);
CREATE TABLE prompt_norms (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    layer INTEGER NOT NULL,
    key_norm REAL NOT NULL,
    value_norm REAL NOT NULL
);
CREATE INDEX prompt_norms_run_step ON prompt_norms(run_id, step, layer);
CREATE TABLE latency (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    batch_size INTEGER NOT NULL,
    seq_len INTEGER NOT NULL,
    prompt_len INTEGER NOT NULL,
    median_ms REAL NOT NULL,
    p90_ms REAL NOT NULL,
    device TEXT NOT NULL
);
CREATE INDEX latency_run ON latency(run_id);
CREATE TABLE artifacts (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX artifacts_run ON artifacts(run_id);
)sql",
    // 1 -> 2: what a run cost to train (the method comparison's step time and peak memory).
    R"sql(
ALTER TABLE runs ADD COLUMN train_device TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN peak_mem_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN step_ms REAL NOT NULL DEFAULT 0;
)sql",
    // 2 -> 3: a causal LM's answers to a few validation prompts at each evaluation.
    R"sql(
CREATE TABLE samples (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    target TEXT NOT NULL,
    base TEXT NOT NULL,
    adapted TEXT NOT NULL
);
CREATE INDEX samples_run_step ON samples(run_id, step, idx);
)sql",
    // 3 -> 4: a causal LM's latency comes in two phases (the first token, then each new token).
    R"sql(
ALTER TABLE latency ADD COLUMN phase TEXT NOT NULL DEFAULT '';
)sql",
    // 4 -> 5: where a run ran (versions, device, threads, system), so that a result can be reproduced.
    R"sql(
ALTER TABLE runs ADD COLUMN environment TEXT NOT NULL DEFAULT '';
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == Store::kSchemaVersion,
              "one migration step per schema version");

// Every setter of user_version below uses a literal from this table: PRAGMA takes no bound parameters.
const char* const kSetVersion[] = {"PRAGMA user_version = 1", "PRAGMA user_version = 2", "PRAGMA user_version = 3",
                                   "PRAGMA user_version = 4", "PRAGMA user_version = 5"};
static_assert(sizeof(kSetVersion) / sizeof(kSetVersion[0]) == Store::kSchemaVersion,
              "one user_version statement per schema version");

constexpr const char* kRunColumns =
    "id, name, status, status_reason, spec_json, model, dataset, method, prompt_len, layers, seed, suite, tags, "
    "notes, created_at, started_at, finished_at, final_metrics_json, best_metrics_json, best_step, "
    "trainable_params, total_params, owner_pid, owner_host, train_device, peak_mem_bytes, step_ms, environment";

RunRecord read_run(const Stmt& s) {
    RunRecord r;
    r.id = s.i64(0);
    r.name = s.text(1);
    r.status = s.text(2);
    r.status_reason = s.text(3);
    r.spec_json = s.text(4);
    r.model = s.text(5);
    r.dataset = s.text(6);
    r.method = s.text(7);
    r.prompt_len = s.i32(8);
    r.layers = s.text(9);
    r.seed = s.i64(10);
    r.suite = s.text(11);
    r.tags = s.text(12);
    r.notes = s.text(13);
    r.created_at = s.f64(14);
    r.started_at = s.f64(15);
    r.finished_at = s.f64(16);
    r.final_metrics_json = s.text(17);
    r.best_metrics_json = s.text(18);
    r.best_step = s.i64(19);
    r.trainable_params = s.i64(20);
    r.total_params = s.i64(21);
    r.owner_pid = s.i64(22);
    r.owner_host = s.text(23);
    r.train_device = s.text(24);
    r.peak_mem_bytes = s.i64(25);
    r.step_ms = s.f64(26);
    r.environment = s.text(27);
    return r;
}

const std::set<std::string>& known_statuses() {
    static const std::set<std::string> s = {"queued", "running", "completed", "failed", "cancelled", "interrupted"};
    return s;
}

}  // namespace

struct Store::Cache {
    std::unordered_map<std::string, std::unique_ptr<Stmt>> stmts;
    sqlite3* db;
    const std::string& path;
    Cache(sqlite3* d, const std::string& p) : db(d), path(p) {}
    Stmt& get(const std::string& sql) {
        auto it = stmts.find(sql);
        if (it == stmts.end()) it = stmts.emplace(sql, std::make_unique<Stmt>(db, path, sql.c_str())).first;
        return *it->second;
    }
    void require_run(int64_t run) {
        Use s(get("SELECT 1 FROM runs WHERE id = ?1"));
        s->bind(1, run);
        if (!s->step()) throw Error(path + ": no run with id " + std::to_string(run));
    }
};

Store::Store(const std::string& path) : path_(path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    try {
        if (rc != SQLITE_OK) fail(path_, db_, "cannot open the run store");
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 5000);
        cache_ = std::make_unique<Cache>(db_, path_);
        migrate();
        exec(db_, path_, "PRAGMA foreign_keys = ON");
        {
            Stmt jm(db_, path_, "PRAGMA journal_mode = WAL");
            std::string mode = jm.step() ? jm.text(0) : "";
            if (mode != "wal" && mode != "memory") fail(path_, nullptr, "cannot switch to WAL mode (got '" + mode + "')");
        }
        exec(db_, path_, "PRAGMA synchronous = NORMAL");
        // Room for a long run's series in the page cache (grows as used; the default 2 MiB spills on 100k points).
        exec(db_, path_, "PRAGMA cache_size = -65536");
        mark_interrupted();
    } catch (...) {
        cache_.reset();
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw;
    }
}

Store::~Store() {
    cache_.reset();  // statements first: a connection with live statements does not close
    sqlite3_close_v2(db_);
}

void Store::migrate() {
    auto read_version = [&]() {
        Stmt v(db_, path_, "PRAGMA user_version");
        if (!v.step()) fail(path_, db_, "cannot read the schema version");
        return v.i32(0);
    };
    // The first read of the file: a file that is not a SQLite database fails here (SQLITE_NOTADB).
    int version = 0;
    {
        sqlite3_stmt* st = nullptr;
        int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) {
            if ((rc & 0xff) == SQLITE_NOTADB) fail(path_, db_, "not a SQLite database, so not a ptune run store");
            fail(path_, db_, "cannot read the run store");
        }
    }
    auto check_newer = [&](int v) {
        if (v > kSchemaVersion)
            throw Error(path_ + ": made by a newer ptune (schema " + std::to_string(v) + ", this build reads up to " +
                        std::to_string(kSchemaVersion) + ")");
    };
    check_newer(version);
    if (version == kSchemaVersion) return;

    Txn txn(db_, path_);
    version = read_version();  // another process may have migrated it while we waited for the lock
    check_newer(version);
    if (version == kSchemaVersion) return;
    if (version == 0) {
        Stmt t(db_, path_, "SELECT count(*) FROM sqlite_master");
        if (t.step() && t.i64(0) > 0)
            fail(path_, nullptr, "a SQLite database that is not a ptune run store (it has tables but no schema version)");
    }
    for (int v = version; v < kSchemaVersion; ++v) {
        exec(db_, path_, kMigrations[v]);
        exec(db_, path_, kSetVersion[v]);
    }
    txn.commit();
}

void Store::mark_interrupted() {
    // Looks first without a write lock, so that opening a store next to a busy writer does not wait on it.
    const std::string host = host_name();
    std::vector<std::pair<int64_t, int64_t>> dead;  // run id, pid
    {
        Use s(cache_->get("SELECT id, owner_pid FROM runs WHERE status = 'running' AND owner_host = ?1"));
        s->bind(1, host);
        while (s->step()) {
            int64_t pid = s->i64(1);
            if (!process_alive(pid)) dead.emplace_back(s->i64(0), pid);
        }
    }
    if (dead.empty()) return;
    Txn txn(db_, path_);
    int marked = 0;
    for (const auto& [id, pid] : dead) {
        // Only if it is still that same dead owner's running run (another Store may have marked or restarted it).
        Use u(cache_->get(
            "UPDATE runs SET status = 'interrupted', status_reason = ?2 "
            "WHERE id = ?1 AND status = 'running' AND owner_host = ?3 AND owner_pid = ?4"));
        const std::string reason = "the process running it ended before it finished (pid " + std::to_string(pid) + ")";
        u->bind(1, id);
        u->bind(2, reason);
        u->bind(3, host);
        u->bind(4, pid);
        u->run();
        marked += sqlite3_changes(db_);
    }
    txn.commit();
    interrupted_on_open_ = marked;
}

int64_t Store::create_run(const RunRecord& r) {
    const std::string status = r.status.empty() ? std::string("queued") : r.status;
    if (!known_statuses().count(status)) throw Error(path_ + ": unknown run status '" + status + "'");
    Use s(cache_->get(
        "INSERT INTO runs (name, status, status_reason, spec_json, model, dataset, method, prompt_len, layers, seed, "
        "suite, tags, notes, created_at, started_at, finished_at, final_metrics_json, best_metrics_json, best_step, "
        "trainable_params, total_params) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"));
    s->bind(1, r.name);
    s->bind(2, status);
    s->bind(3, r.status_reason);
    s->bind(4, r.spec_json);
    s->bind(5, r.model);
    s->bind(6, r.dataset);
    s->bind(7, r.method);
    s->bind(8, r.prompt_len);
    s->bind(9, r.layers);
    s->bind(10, r.seed);
    s->bind(11, r.suite);
    s->bind(12, r.tags);
    s->bind(13, r.notes);
    s->bind(14, now_seconds());
    s->bind(15, r.started_at);
    s->bind(16, r.finished_at);
    s->bind(17, r.final_metrics_json);
    s->bind(18, r.best_metrics_json);
    s->bind(19, r.best_step);
    s->bind(20, r.trainable_params);
    s->bind(21, r.total_params);
    s->run();
    return sqlite3_last_insert_rowid(db_);
}

void Store::start_run(int64_t id) {
    Use s(cache_->get(
        "UPDATE runs SET status = 'running', status_reason = '', started_at = ?2, finished_at = 0, owner_pid = ?3, "
        "owner_host = ?4 WHERE id = ?1"));
    const std::string host = host_name();
    s->bind(1, id);
    s->bind(2, now_seconds());
    s->bind(3, static_cast<int64_t>(getpid()));
    s->bind(4, host);
    s->run();
    if (sqlite3_changes(db_) == 0) throw Error(path_ + ": no run with id " + std::to_string(id));
}

void Store::finish_run(int64_t id, const std::string& status, const std::string& reason,
                       const std::string& final_metrics_json, const std::string& best_metrics_json, int64_t best_step) {
    if (!known_statuses().count(status) || status == "running" || status == "queued")
        throw Error(path_ + ": '" + status + "' is not a status a run can finish with");
    Use s(cache_->get(
        "UPDATE runs SET status = ?2, status_reason = ?3, finished_at = ?4, final_metrics_json = ?5, "
        "best_metrics_json = ?6, best_step = ?7 WHERE id = ?1"));
    s->bind(1, id);
    s->bind(2, status);
    s->bind(3, reason);
    s->bind(4, now_seconds());
    s->bind(5, final_metrics_json);
    s->bind(6, best_metrics_json);
    s->bind(7, best_step);
    s->run();
    if (sqlite3_changes(db_) == 0) throw Error(path_ + ": no run with id " + std::to_string(id));
}

void Store::update_run(const RunRecord& r) {
    Use s(cache_->get(
        "UPDATE runs SET name = ?2, tags = ?3, notes = ?4, trainable_params = ?5, total_params = ?6 WHERE id = ?1"));
    s->bind(1, r.id);
    s->bind(2, r.name);
    s->bind(3, r.tags);
    s->bind(4, r.notes);
    s->bind(5, r.trainable_params);
    s->bind(6, r.total_params);
    s->run();
    if (sqlite3_changes(db_) == 0) throw Error(path_ + ": no run with id " + std::to_string(r.id));
}

void Store::set_train_stats(int64_t id, const std::string& device, int64_t peak_mem_bytes, double step_ms) {
    Use s(cache_->get("UPDATE runs SET train_device = ?2, peak_mem_bytes = ?3, step_ms = ?4 WHERE id = ?1"));
    s->bind(1, id);
    s->bind(2, device);
    s->bind(3, peak_mem_bytes);
    s->bind(4, step_ms);
    s->run();
    if (sqlite3_changes(db_) == 0) throw Error(path_ + ": no run with id " + std::to_string(id));
}

void Store::set_environment(int64_t id, const std::string& environment_json) {
    Use s(cache_->get("UPDATE runs SET environment = ?2 WHERE id = ?1"));
    s->bind(1, id);
    s->bind(2, environment_json);
    s->run();
    if (sqlite3_changes(db_) == 0) throw Error(path_ + ": no run with id " + std::to_string(id));
}

void Store::delete_run(int64_t id) {
    // Checked and deleted in one write transaction, so that no process starts or finishes it in between.
    Txn txn(db_, path_);
    {
        Use q(cache_->get("SELECT status, owner_pid, owner_host FROM runs WHERE id = ?1"));
        q->bind(1, id);
        if (!q->step()) throw Error(path_ + ": no run with id " + std::to_string(id));
        const std::string status = q->text(0), owner_host = q->text(2);
        const int64_t pid = q->i64(1);
        // A run is being trained while its owner lives (one on another host cannot be checked from here).
        if (status == "running" && (owner_host != host_name() || process_alive(pid)))
            throw Error(path_ + ": run " + std::to_string(id) + " is being trained (process " + std::to_string(pid) +
                        (owner_host.empty() ? "" : " on " + owner_host) + "): stop it first, then delete it");
    }
    Use s(cache_->get("DELETE FROM runs WHERE id = ?1"));  // series rows go by ON DELETE CASCADE
    s->bind(1, id);
    s->run();
    txn.commit();
}

std::optional<RunRecord> Store::run(int64_t id) const {
    Use s(cache_->get(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1"));
    s->bind(1, id);
    if (!s->step()) return std::nullopt;
    return read_run(*s);
}

std::vector<RunRecord> Store::runs() const {
    Use s(cache_->get(std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY created_at DESC, id DESC"));
    std::vector<RunRecord> out;
    while (s->step()) out.push_back(read_run(*s));
    return out;
}

void Store::add_metrics(int64_t run, const std::vector<MetricPoint>& pts) {
    Txn txn(db_, path_);
    cache_->require_run(run);
    Stmt& st = cache_->get("INSERT INTO metrics (run_id, step, epoch, time, key, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    for (const MetricPoint& p : pts) {
        Use s(st);
        s->bind(1, run);
        s->bind(2, p.step);
        s->bind(3, p.epoch);
        s->bind(4, p.time);
        s->bind(5, p.key);
        s->bind(6, p.value);
        s->run();
    }
    txn.commit();
}

void Store::add_prompt_norms(int64_t run, const std::vector<PromptNormRow>& rows) {
    Txn txn(db_, path_);
    cache_->require_run(run);
    Stmt& st = cache_->get(
        "INSERT INTO prompt_norms (run_id, step, layer, key_norm, value_norm) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const PromptNormRow& r : rows) {
        Use s(st);
        s->bind(1, run);
        s->bind(2, r.step);
        s->bind(3, r.layer);
        s->bind(4, r.key_norm);
        s->bind(5, r.value_norm);
        s->run();
    }
    txn.commit();
}

void Store::add_samples(int64_t run, const std::vector<SampleRow>& rows) {
    Txn txn(db_, path_);
    cache_->require_run(run);
    Stmt& st = cache_->get(
        "INSERT INTO samples (run_id, step, idx, prompt, target, base, adapted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (const SampleRow& r : rows) {
        Use s(st);
        s->bind(1, run);
        s->bind(2, r.step);
        s->bind(3, (int64_t)r.index);
        s->bind(4, r.prompt);
        s->bind(5, r.target);
        s->bind(6, r.base);
        s->bind(7, r.adapted);
        s->run();
    }
    txn.commit();
}

void Store::add_latency(int64_t run, const std::vector<LatencyRow>& rows) {
    Txn txn(db_, path_);
    cache_->require_run(run);
    Stmt& st = cache_->get(
        "INSERT INTO latency (run_id, method, batch_size, seq_len, prompt_len, median_ms, p90_ms, device, phase) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    for (const LatencyRow& r : rows) {
        Use s(st);
        s->bind(1, run);
        s->bind(2, r.method);
        s->bind(3, r.batch_size);
        s->bind(4, r.seq_len);
        s->bind(5, r.prompt_len);
        s->bind(6, r.median_ms);
        s->bind(7, r.p90_ms);
        s->bind(8, r.device);
        s->bind(9, r.phase);
        s->run();
    }
    txn.commit();
}

void Store::add_artifact(int64_t run, const ArtifactRow& a) {
    Txn txn(db_, path_);
    cache_->require_run(run);
    Use s(cache_->get("INSERT INTO artifacts (run_id, kind, path, created_at) VALUES (?1, ?2, ?3, ?4)"));
    s->bind(1, run);
    s->bind(2, a.kind);
    s->bind(3, a.path);
    s->bind(4, a.created_at != 0 ? a.created_at : now_seconds());
    s->run();
    txn.commit();
}

std::vector<MetricPoint> Store::metrics(int64_t run, const std::string& key) const {
    std::vector<MetricPoint> out;
    if (!key.empty()) {
        // The (run_id, key, step) index gives this order directly (its entries end with the rowid).
        Use s(cache_->get(
            "SELECT step, epoch, time, key, value FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY step, rowid"));
        s->bind(1, run);
        s->bind(2, key);
        while (s->step()) out.push_back({s->i64(0), s->f64(1), s->f64(2), key, s->f64(4)});
        return out;
    }
    // All keys: read in index order (no temporary b-tree in SQLite) and order by (step, insertion) here, which is
    // several times faster for large runs.
    std::vector<std::pair<int64_t, int64_t>> order;  // (step, rowid) per row read
    std::vector<MetricPoint> rows;
    {
        Use n(cache_->get("SELECT count(*) FROM metrics WHERE run_id = ?1"));
        n->bind(1, run);
        if (n->step()) {
            order.reserve(static_cast<size_t>(n->i64(0)));
            rows.reserve(static_cast<size_t>(n->i64(0)));
        }
    }
    {
        Use s(cache_->get(
            "SELECT rowid, step, epoch, time, key, value FROM metrics WHERE run_id = ?1 ORDER BY key, step, rowid"));
        s->bind(1, run);
        while (s->step()) {
            order.emplace_back(s->i64(1), s->i64(0));
            rows.push_back({s->i64(1), s->f64(2), s->f64(3), s->text(4), s->f64(5)});
        }
    }
    std::vector<size_t> idx(rows.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return order[a] < order[b]; });
    out.reserve(rows.size());
    for (size_t i : idx) out.push_back(std::move(rows[i]));
    return out;
}

std::vector<std::string> Store::metric_keys(int64_t run) const {
    // Jumps from key to key along the index instead of reading every point.
    Use s(cache_->get(
        "WITH RECURSIVE k(key) AS ("
        " SELECT (SELECT min(key) FROM metrics WHERE run_id = ?1)"
        " UNION ALL"
        " SELECT (SELECT min(key) FROM metrics WHERE run_id = ?1 AND key > k.key) FROM k WHERE k.key IS NOT NULL)"
        " SELECT key FROM k WHERE key IS NOT NULL"));
    s->bind(1, run);
    std::vector<std::string> out;
    while (s->step()) out.push_back(s->text(0));
    return out;
}

std::vector<PromptNormRow> Store::prompt_norms(int64_t run) const {
    Use s(cache_->get(
        "SELECT step, layer, key_norm, value_norm FROM prompt_norms WHERE run_id = ?1 ORDER BY step, layer, rowid"));
    s->bind(1, run);
    std::vector<PromptNormRow> out;
    while (s->step()) {
        PromptNormRow r;
        r.step = s->i64(0);
        r.layer = s->i32(1);
        r.key_norm = s->f64(2);
        r.value_norm = s->f64(3);
        out.push_back(r);
    }
    return out;
}

std::vector<SampleRow> Store::samples(int64_t run) const {
    Use s(cache_->get("SELECT step, idx, prompt, target, base, adapted FROM samples WHERE run_id = ?1 ORDER BY step, idx, rowid"));
    s->bind(1, run);
    std::vector<SampleRow> out;
    while (s->step()) {
        SampleRow r;
        r.step = s->i64(0);
        r.index = s->i32(1);
        r.prompt = s->text(2);
        r.target = s->text(3);
        r.base = s->text(4);
        r.adapted = s->text(5);
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<LatencyRow> Store::latency(int64_t run) const {
    Use s(cache_->get(
        "SELECT method, batch_size, seq_len, prompt_len, median_ms, p90_ms, device, phase FROM latency WHERE run_id = ?1 "
        "ORDER BY rowid"));
    s->bind(1, run);
    std::vector<LatencyRow> out;
    while (s->step()) {
        LatencyRow r;
        r.method = s->text(0);
        r.batch_size = s->i32(1);
        r.seq_len = s->i32(2);
        r.prompt_len = s->i32(3);
        r.median_ms = s->f64(4);
        r.p90_ms = s->f64(5);
        r.device = s->text(6);
        r.phase = s->text(7);
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<ArtifactRow> Store::artifacts(int64_t run) const {
    Use s(cache_->get("SELECT kind, path, created_at FROM artifacts WHERE run_id = ?1 ORDER BY created_at, rowid"));
    s->bind(1, run);
    std::vector<ArtifactRow> out;
    while (s->step()) {
        ArtifactRow a;
        a.kind = s->text(0);
        a.path = s->text(1);
        a.created_at = s->f64(2);
        out.push_back(std::move(a));
    }
    return out;
}

std::map<std::string, double> Store::latest_metrics(int64_t run) const {
    // One index seek per key.
    std::map<std::string, double> out;
    for (const std::string& key : metric_keys(run)) {
        Use s(cache_->get(
            "SELECT value FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY step DESC, rowid DESC LIMIT 1"));
        s->bind(1, run);
        s->bind(2, key);
        if (s->step()) out[key] = s->f64(0);
    }
    return out;
}

}  // namespace ptune
