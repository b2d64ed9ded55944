// Tests for core/io/safetensors: reading the BERT fixture, write -> read round trips, dtype conversion,
// sharded checkpoints, and one test per rule of the format that a malformed file can break.
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "core/io/json_util.h"
#include "core/io/safetensors.h"

using namespace ptune;

namespace {

std::string fixture(const char* rel) { return std::string(PTUNE_FIXTURES) + "/" + rel; }

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return s;
}

// A safetensors file from a header text and `data_size` data bytes (value i & 0xFF at byte i).
std::string raw_file(const std::string& header, size_t data_size) {
    std::string out = le64(header.size()) + header;
    for (size_t i = 0; i < data_size; ++i) out.push_back(static_cast<char>(i & 0xFF));
    return out;
}

template <class T>
std::vector<uint8_t> to_bytes(std::initializer_list<T> values) {
    std::vector<uint8_t> out(values.size() * sizeof(T));
    size_t i = 0;
    for (T v : values) std::memcpy(out.data() + sizeof(T) * i++, &v, sizeof(T));
    return out;
}

st::TensorData tensor(const std::string& name, st::DType d, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
    st::TensorData t;
    t.name = name;
    t.dtype = d;
    t.shape = std::move(shape);
    t.bytes = std::move(bytes);
    return t;
}

}  // namespace

class TstSafetensors : public QObject {
    Q_OBJECT

    // Writes `bytes` as `name` in dir_, opens it and checks that open throws ptune::Error whose message
    // names the file and contains every word in `words`.
    void expectOpenError(const std::string& name, const std::string& bytes, std::initializer_list<const char*> words) {
        const std::string path = dir_.path().toStdString() + "/" + name;
        write_bytes(path, bytes);
        expectError([&] { st::File::open(path); }, name, words);
    }

    template <class F>
    void expectError(F&& f, const std::string& name, std::initializer_list<const char*> words) {
        std::string msg;
        try {
            f();
        } catch (const Error& e) {
            msg = e.what();
        }
        QVERIFY2(!msg.empty(), ("no ptune::Error thrown for " + name).c_str());
        QVERIFY2(msg.find(name) != std::string::npos, ("message does not name the file: " + msg).c_str());
        for (const char* w : words)
            QVERIFY2(msg.find(w) != std::string::npos, ("message lacks \"" + std::string(w) + "\": " + msg).c_str());
    }

    std::string path(const std::string& name) const { return dir_.path().toStdString() + "/" + name; }

    QTemporaryDir dir_;

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void dtypeNames() {
        QCOMPARE(std::string(st::dtype_name(st::DType::BF16)), std::string("BF16"));
        QCOMPARE(st::dtype_size(st::DType::BF16), size_t(2));
        QCOMPARE(st::dtype_size(st::DType::F64), size_t(8));
        QCOMPARE(st::dtype_size(st::DType::BOOL), size_t(1));
        QVERIFY(st::dtype_from_name("U16") == st::DType::U16);
        QVERIFY(st::dtype_from_name("F8_E4M3") == st::DType::F8_E4M3);
        QVERIFY_THROWS_EXCEPTION(Error, st::dtype_from_name("f32"));
    }

    void readBertFixture() {
        const std::string p = fixture("bert/model/model.safetensors");
        st::File f = st::File::open(p);
        QCOMPARE(f.path(), p);
        QCOMPARE(f.tensors().size(), size_t(41));
        QCOMPARE(f.header_size(), uint64_t(4392));
        QCOMPARE(f.file_size(), uint64_t(835128));
        for (const auto& t : f.tensors()) QVERIFY(t.name != "__metadata__");
        QVERIFY(f.find("__metadata__") == nullptr);
        QCOMPARE(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
        // Header order (the Python writer sorted them by name, so the first and last are known).
        QCOMPARE(f.tensors().front().name, std::string("bert.embeddings.LayerNorm.bias"));
        QCOMPARE(f.tensors().back().name, std::string("classifier.weight"));

        const st::TensorInfo* we = f.find("bert.embeddings.word_embeddings.weight");
        QVERIFY(we);
        QCOMPARE(we->shape, (std::vector<int64_t>{2000, 64}));
        QVERIFY(we->dtype == st::DType::F32);
        QCOMPARE(we->begin, uint64_t(33792));
        QCOMPARE(we->end, uint64_t(545792));
        QCOMPARE(we->numel(), int64_t(128000));

        // Values read independently with python3's struct module from the fixture.
        std::vector<float> v = st::to_float32(f, *we);
        QCOMPARE(v.size(), size_t(128000));
        QCOMPARE(bits_of(v[0]), 0x00000000u);  // padding row
        QCOMPARE(bits_of(v[64]), 0x3bb97fa9u);
        QVERIFY(v[64] == 0.005660970229655504f);
        QCOMPARE(bits_of(v[64017]), 0x3ae6cb95u);
        QVERIFY(v[64017] == 0.0017608279595151544f);
        QCOMPARE(bits_of(v[127999]), 0xbcb0f37cu);
        QVERIFY(v[127999] == -0.021600477397441864f);
        double row5 = 0;
        for (int i = 0; i < 64; ++i) row5 += v[5 * 64 + i];
        QVERIFY(std::fabs(row5 - 0.02107595327834133) < 1e-9);

        const st::TensorInfo* pool = f.find("bert.pooler.dense.weight");
        QVERIFY(pool);
        float raw;
        std::memcpy(&raw, f.data(*pool) + 4 * (64 * 3 + 7), 4);
        QCOMPARE(bits_of(raw), 0xbc748641u);
        QVERIFY(raw == -0.01492458675056696f);
        const st::TensorInfo* cw = f.find("classifier.weight");
        QVERIFY(cw);
        QCOMPARE(cw->shape, (std::vector<int64_t>{2, 64}));
        QVERIFY(st::to_float32(f, *cw)[127] == 0.00732725253328681f);
        QVERIFY(st::to_float32(f, *f.find("bert.embeddings.LayerNorm.weight"))[5] == 1.0f);
    }

    void headerOrderIsJsonTextOrder() {
        const std::string h = R"({"zeta":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                              R"("alpha":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}})";
        write_bytes(path("order.safetensors"), raw_file(h, 5));
        st::File f = st::File::open(path("order.safetensors"));
        QCOMPARE(f.tensors().size(), size_t(2));
        QCOMPARE(f.tensors()[0].name, std::string("zeta"));
        QCOMPARE(f.tensors()[1].name, std::string("alpha"));
        QCOMPARE(int(f.data(*f.find("alpha"))[0]), 2);
        QVERIFY(f.metadata().empty());
    }

    void roundTrip() {
        const auto f32 = to_bytes<float>({1.5f, -2.0f, 3.25f, 1e-8f});
        const auto f16 = to_bytes<uint16_t>({0x3C00, 0xC100, 0x7BFF});  // 1, -2.5, 65504
        const auto bf16 = to_bytes<uint16_t>({0x3F80, 0xC020});          // 1, -2.5
        const auto i64 = to_bytes<int64_t>({-3, int64_t(1) << 40});
        std::vector<st::TensorData> ts = {
            tensor("z.f32", st::DType::F32, {2, 2}, f32),
            tensor("b.f16", st::DType::F16, {3}, f16),
            tensor("a.i64", st::DType::I64, {2}, i64),
            tensor("m.bf16", st::DType::BF16, {1, 2}, bf16),
            tensor("empty", st::DType::F32, {0, 4}, {}),
        };
        const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "quote \" and é"}};
        const std::string p = path("rt.safetensors");
        st::write(p, ts, meta);

        const std::string bytes = read_all(p);
        uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        QCOMPARE(n % 8, uint64_t(0));
        QCOMPARE(uint64_t(bytes.size()), 8 + n + 16 + 6 + 4 + 16 + 0);

        st::File f = st::File::open(p);
        QCOMPARE(f.metadata(), meta);
        std::vector<std::string> names;
        for (const auto& t : f.tensors()) names.push_back(t.name);
        QCOMPARE(names, (std::vector<std::string>{"a.i64", "b.f16", "empty", "m.bf16", "z.f32"}));
        for (const auto& in : ts) {
            const st::TensorInfo* t = f.find(in.name);
            QVERIFY(t);
            QVERIFY(t->dtype == in.dtype);
            QCOMPARE(t->shape, in.shape);
            QCOMPARE(t->end - t->begin, uint64_t(in.bytes.size()));
            QVERIFY(std::equal(in.bytes.begin(), in.bytes.end(), f.data(*t)));
        }
        // Data laid out in name order from offset 0.
        QCOMPARE(f.find("a.i64")->begin, uint64_t(0));
        QCOMPARE(f.find("b.f16")->begin, uint64_t(16));
        QCOMPARE(f.find("empty")->begin, uint64_t(22));
        QCOMPARE(f.find("m.bf16")->begin, uint64_t(22));
        QCOMPARE(f.find("z.f32")->begin, uint64_t(26));

        QCOMPARE(st::to_float32(f, *f.find("z.f32")), (std::vector<float>{1.5f, -2.0f, 3.25f, 1e-8f}));
        QCOMPARE(st::to_float32(f, *f.find("b.f16")), (std::vector<float>{1.0f, -2.5f, 65504.0f}));
        QCOMPARE(st::to_float32(f, *f.find("m.bf16")), (std::vector<float>{1.0f, -2.5f}));
        QCOMPARE(st::to_float32(f, *f.find("a.i64")), (std::vector<float>{-3.0f, 1099511627776.0f}));
        QVERIFY(st::to_float32(f, *f.find("empty")).empty());

        // Rewriting over an existing file replaces it and leaves no temporary behind.
        st::write(p, {tensor("only", st::DType::U8, {1}, {7})});
        st::File g = st::File::open(p);
        QCOMPARE(g.tensors().size(), size_t(1));
        QCOMPARE(int(g.data(g.tensors()[0])[0]), 7);
        QVERIFY(g.metadata().empty());
        const QStringList left = QDir(dir_.path()).entryList(QStringList{"*rt.safetensors*"}, QDir::Files | QDir::Hidden);
        QCOMPARE(left, QStringList{"rt.safetensors"});
    }

    void exactHeaderBytes() {
        const std::string p = path("exact.safetensors");
        st::write(p, {tensor("w", st::DType::F32, {2}, to_bytes<float>({1.0f, 2.0f}))}, {{"format", "pt"}});
        const std::string json = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        QCOMPARE(json.size(), size_t(85));  // padded with 3 spaces to 88
        const std::string expected = le64(88) + json + "   " + std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
        QCOMPARE(read_all(p), expected);

        // No metadata: no "__metadata__" key at all. Header of 57 bytes padded to 64.
        st::write(p, {tensor("b", st::DType::BOOL, {2, 1}, {1, 0})});
        const std::string json2 = R"({"b":{"dtype":"BOOL","shape":[2,1],"data_offsets":[0,2]}})";
        QCOMPARE(json2.size(), size_t(57));
        QCOMPARE(read_all(p), le64(64) + json2 + std::string(7, ' ') + std::string("\x01\x00", 2));
    }

    void writeRejectsBadTensors() {
        const std::string p = path("bad_write.safetensors");
        expectError([&] { st::write(p, {tensor("w.bias", st::DType::F32, {3}, std::vector<uint8_t>(8))}); },
                    "w.bias", {"12", "8 bytes"});
        expectError([&] { st::write(p, {tensor("h", st::DType::BF16, {2, 2}, std::vector<uint8_t>(4))}); }, "h",
                    {"needs 8"});
        expectError([&] {
            st::write(p, {tensor("d", st::DType::U8, {1}, {1}), tensor("d", st::DType::U8, {1}, {2})});
        }, "d", {"duplicate"});
        expectError([&] { st::write(p, {tensor("n", st::DType::U8, {-1}, {})}); }, "n", {"negative"});
        expectError([&] { st::write(p, {tensor("__metadata__", st::DType::U8, {1}, {1})}); }, "__metadata__",
                    {"reserved"});
        QVERIFY(!QFile::exists(QString::fromStdString(p)));
    }

    void halfConversion() {
        QCOMPARE(st::f16_to_f32(0x3C00), 1.0f);
        QCOMPARE(st::f16_to_f32(0xC100), -2.5f);
        QCOMPARE(st::f16_to_f32(0x7BFF), 65504.0f);
        QCOMPARE(bits_of(st::f16_to_f32(0x0001)), bits_of(std::ldexp(1.0f, -24)));  // smallest subnormal
        QCOMPARE(bits_of(st::f16_to_f32(0x03FF)), bits_of(1023.0f * std::ldexp(1.0f, -24)));  // largest subnormal
        QCOMPARE(bits_of(st::f16_to_f32(0x0400)), bits_of(std::ldexp(1.0f, -14)));  // smallest normal
        QCOMPARE(bits_of(st::f16_to_f32(0x8001)), bits_of(-std::ldexp(1.0f, -24)));
        QCOMPARE(bits_of(st::f16_to_f32(0x8000)), 0x80000000u);  // -0
        QCOMPARE(bits_of(st::f16_to_f32(0x3555)), bits_of(0.333251953125f));
        QCOMPARE(st::f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
        QCOMPARE(st::f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
        QVERIFY(std::isnan(st::f16_to_f32(0x7E00)));
        QVERIFY(std::isnan(st::f16_to_f32(0x7C01)));
        QVERIFY(std::isnan(st::f16_to_f32(0xFE00)));

        QCOMPARE(st::bf16_to_f32(0x3F80), 1.0f);
        QCOMPARE(st::bf16_to_f32(0xC020), -2.5f);
        QCOMPARE(st::bf16_to_f32(0x477F), 65280.0f);  // 65504 is not representable in bf16
        QCOMPARE(st::bf16_to_f32(0x7F7F), 3.3895313892515355e38f);
        QCOMPARE(bits_of(st::bf16_to_f32(0x0001)), bits_of(std::ldexp(1.0f, -133)));  // subnormal
        QCOMPARE(st::bf16_to_f32(0x7F80), std::numeric_limits<float>::infinity());
        QCOMPARE(st::bf16_to_f32(0xFF80), -std::numeric_limits<float>::infinity());
        QVERIFY(std::isnan(st::bf16_to_f32(0x7FC0)));

        QCOMPARE(st::f8_e4m3_to_f32(0x38), 1.0f);
        QCOMPARE(st::f8_e4m3_to_f32(0x7E), 448.0f);
        QCOMPARE(st::f8_e4m3_to_f32(0xC2), -2.5f);
        QCOMPARE(bits_of(st::f8_e4m3_to_f32(0x01)), bits_of(std::ldexp(1.0f, -9)));
        QVERIFY(std::isnan(st::f8_e4m3_to_f32(0x7F)));
        QCOMPARE(st::f8_e5m2_to_f32(0x3C), 1.0f);
        QCOMPARE(st::f8_e5m2_to_f32(0x7B), 57344.0f);
        QCOMPARE(st::f8_e5m2_to_f32(0x7C), std::numeric_limits<float>::infinity());
        QCOMPARE(bits_of(st::f8_e5m2_to_f32(0x01)), bits_of(std::ldexp(1.0f, -16)));

        // Through a file: to_float32 on F16 and BF16 tensors, subnormal/inf/nan included.
        const std::string p = path("half.safetensors");
        st::write(p, {tensor("h", st::DType::F16, {6}, to_bytes<uint16_t>({0x3C00, 0xC100, 0x7BFF, 0x0001, 0x7C00, 0x7E00})),
                      tensor("b", st::DType::BF16, {4}, to_bytes<uint16_t>({0x3F80, 0xC020, 0xFF80, 0x7FC0})),
                      tensor("d", st::DType::F64, {1}, to_bytes<double>({-0.1})),
                      tensor("i", st::DType::I8, {2}, {0xFF, 0x7F}),
                      tensor("q", st::DType::BOOL, {2}, {0, 1})});
        st::File f = st::File::open(p);
        const auto h = st::to_float32(f, *f.find("h"));
        QCOMPARE(h.size(), size_t(6));
        QCOMPARE(h[0], 1.0f);
        QCOMPARE(h[1], -2.5f);
        QCOMPARE(h[2], 65504.0f);
        QCOMPARE(bits_of(h[3]), bits_of(std::ldexp(1.0f, -24)));
        QVERIFY(std::isinf(h[4]) && h[4] > 0);
        QVERIFY(std::isnan(h[5]));
        const auto b = st::to_float32(f, *f.find("b"));
        QCOMPARE(b[0], 1.0f);
        QCOMPARE(b[1], -2.5f);
        QVERIFY(std::isinf(b[2]) && b[2] < 0);
        QVERIFY(std::isnan(b[3]));
        QCOMPARE(st::to_float32(f, *f.find("d")), std::vector<float>{-0.1f});
        QCOMPARE(st::to_float32(f, *f.find("i")), (std::vector<float>{-1.0f, 127.0f}));
        QCOMPARE(st::to_float32(f, *f.find("q")), (std::vector<float>{0.0f, 1.0f}));
    }

    void emptyAndZeroTensorFiles() {
        const std::string p = path("none.safetensors");
        st::write(p, {});
        QCOMPARE(read_all(p), le64(8) + "{}      ");
        st::File f = st::File::open(p);
        QVERIFY(f.tensors().empty());
        QVERIFY(f.metadata().empty());

        st::write(p, {}, {{"k", "v"}});
        st::File g = st::File::open(p);
        QVERIFY(g.tensors().empty());
        QCOMPARE(g.metadata().at("k"), std::string("v"));

        // Several zero-sized tensors at the same offset, and a scalar (shape []).
        const std::string h = R"({"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                              R"("s":{"dtype":"I32","shape":[],"data_offsets":[0,4]},)"
                              R"("e2":{"dtype":"F16","shape":[3,0],"data_offsets":[4,4]}})";
        write_bytes(path("zero.safetensors"), raw_file(h, 4));
        st::File z = st::File::open(path("zero.safetensors"));
        QCOMPARE(z.tensors().size(), size_t(3));
        QCOMPARE(z.find("s")->numel(), int64_t(1));
        QCOMPARE(z.find("e2")->numel(), int64_t(0));
        QCOMPARE(st::to_float32(z, *z.find("s")), std::vector<float>{float(0x03020100)});
    }

    void checkpointSingle() {
        QTemporaryDir d;
        const std::string dir = d.path().toStdString();
        st::write(dir + "/model.safetensors", {tensor("x", st::DType::F32, {1}, to_bytes<float>({4.0f}))});
        st::Checkpoint c = st::Checkpoint::open(dir);
        QCOMPARE(c.source(), dir + "/model.safetensors");
        QCOMPARE(c.names(), std::vector<std::string>{"x"});
        QVERIFY(c.contains("x"));
        QVERIFY(!c.contains("y"));
        auto [file, info] = c.get("x");
        QCOMPARE(st::to_float32(*file, *info), std::vector<float>{4.0f});
        expectError([&] { c.get("y"); }, "model.safetensors", {"\"y\""});

        st::Checkpoint bert = st::Checkpoint::open(fixture("bert/model/model.safetensors"));
        QCOMPARE(bert.names().size(), size_t(41));
        QCOMPARE(bert.get("classifier.bias").second->shape, std::vector<int64_t>{2});
        QVERIFY(st::Checkpoint::open(fixture("bert/model")).contains("bert.pooler.dense.bias"));
    }

    void checkpointSharded() {
        QTemporaryDir d;
        const std::string dir = d.path().toStdString();
        const std::string s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
        st::write(dir + "/" + s1, {tensor("enc.w", st::DType::F32, {2}, to_bytes<float>({1.0f, 2.0f})),
                                   tensor("enc.b", st::DType::F32, {1}, to_bytes<float>({-1.0f}))});
        st::write(dir + "/" + s2, {tensor("head.w", st::DType::BF16, {2}, to_bytes<uint16_t>({0x4040, 0xBF00}))});
        // (Built with nlohmann: moc mis-lexes raw strings that end in "}}.)
        const json index = {{"metadata", {{"total_size", 16}}},
                            {"weight_map", {{"head.w", s2}, {"enc.w", s1}, {"enc.b", s1}}}};
        write_bytes(dir + "/model.safetensors.index.json", index.dump());

        st::Checkpoint c = st::Checkpoint::open(dir);
        QCOMPARE(c.source(), dir + "/model.safetensors.index.json");
        QCOMPARE(c.names(), (std::vector<std::string>{"enc.b", "enc.w", "head.w"}));
        auto [fw, iw] = c.get("enc.w");
        auto [fb, ib] = c.get("enc.b");
        auto [fh, ih] = c.get("head.w");
        QCOMPARE(fw, fb);  // shard opened once
        QVERIFY(fw != fh);
        QCOMPARE(fh->path(), dir + "/" + s2);
        QCOMPARE(st::to_float32(*fw, *iw), (std::vector<float>{1.0f, 2.0f}));
        QCOMPARE(st::to_float32(*fb, *ib), std::vector<float>{-1.0f});
        QCOMPARE(st::to_float32(*fh, *ih), (std::vector<float>{3.0f, -0.5f}));
        // The index file itself can be given.
        QCOMPARE(st::Checkpoint::open(dir + "/model.safetensors.index.json").names().size(), size_t(3));

        // A listed tensor absent from its shard: the message names the tensor and the shard.
        write_bytes(dir + "/model.safetensors.index.json",
                    json{{"weight_map", {{"enc.w", s1}, {"ghost", s1}}}}.dump());
        expectError([&] { st::Checkpoint::open(dir); }, "model.safetensors.index.json", {"\"ghost\"", s1.c_str()});
        // A missing shard: names the shard and the tensor listed for it.
        write_bytes(dir + "/model.safetensors.index.json", R"({"weight_map":{"enc.w":"model-00003.safetensors"}})");
        expectError([&] { st::Checkpoint::open(dir); }, "model.safetensors.index.json",
                    {"model-00003.safetensors", "\"enc.w\"", "missing"});
        write_bytes(dir + "/model.safetensors.index.json", R"({"metadata":{}})");
        expectError([&] { st::Checkpoint::open(dir); }, "model.safetensors.index.json", {"weight_map"});
    }

    void checkpointMissing() {
        QTemporaryDir d;
        const std::string dir = d.path().toStdString();
        expectError([&] { st::Checkpoint::open(dir); }, dir, {"model.safetensors"});
        write_bytes(dir + "/pytorch_model.bin", "PK");
        expectError([&] { st::Checkpoint::open(dir); }, dir, {"pytorch_model.bin", "not supported"});
        expectError([&] { st::Checkpoint::open(dir + "/nope"); }, dir + "/nope", {"no such"});
    }

    // ---- malformed files: one rule each --------------------------------------------------------------

    void malformedTruncated() {
        expectOpenError("short.safetensors", std::string("\x08\x00\x00", 3), {"truncated"});
        expectOpenError("zero_bytes.safetensors", "", {"truncated"});
        std::string ok = raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
        expectOpenError("cut.safetensors", ok.substr(0, ok.size() - 3), {"truncated", "\"a\""});
    }

    void malformedHeaderSize() {
        std::string f = raw_file("{}", 0);
        f.replace(0, 8, le64(1000));
        expectOpenError("hsize.safetensors", f, {"header size", "exceeds", "1000"});
        f.replace(0, 8, le64(200'000'000));
        expectOpenError("hlimit.safetensors", f, {"limit"});
    }

    void malformedNotJson() {
        expectOpenError("notjson.safetensors", raw_file(R"({"a": {"dtype": )", 0), {"JSON"});
        expectOpenError("badutf8.safetensors", raw_file("{\"\xC3\x28\":1}", 0), {"UTF-8"});
    }

    void malformedNotObject() {
        expectOpenError("array.safetensors", raw_file("[1, 2]  ", 0), {"object"});
        expectOpenError("entry.safetensors", raw_file(R"({"a":[1]})", 0), {"\"a\"", "object"});
        expectOpenError("leading.safetensors", raw_file(" {}     ", 0), {"start"});
    }

    void malformedUnknownDtype() {
        expectOpenError("dtype.safetensors", raw_file(R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})", 4),
                        {"\"a\"", "dtype", "F12"});
    }

    void malformedSizeMismatch() {
        expectOpenError("mismatch.safetensors",
                        raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                        {"\"a\"", "mismatch", "12 bytes"});
        expectOpenError("negshape.safetensors",
                        raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                        {"\"a\"", "non-negative"});
        expectOpenError("overflow.safetensors",
                        raw_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
                        {"\"a\"", "overflow"});
        expectOpenError("reversed.safetensors",
                        raw_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4), {"\"a\"", "end before"});
    }

    void malformedGap() {
        expectOpenError("gap.safetensors",
                        raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                 12),
                        {"\"b\"", "gap"});
        expectOpenError("gapstart.safetensors",
                        raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), {"\"a\"", "gap"});
    }

    void malformedOverlap() {
        expectOpenError("overlap.safetensors",
                        raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 12),
                        {"data_offsets [4, 12] overlap the previous tensor \"a\""});
    }

    void malformedTrailingBytes() {
        expectOpenError("trailing.safetensors",
                        raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8), {"4 trailing bytes"});
        expectOpenError("trailing0.safetensors", raw_file("{}", 1), {"trailing"});
    }

    void malformedDuplicateKey() {
        expectOpenError("dup.safetensors",
                        raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                 R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                 2),
                        {"duplicate", "\"a\""});
        expectOpenError("dupfield.safetensors",
                        raw_file(R"({"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1),
                        {"duplicate", "\"dtype\"", "\"a\""});
        expectOpenError("dupmeta.safetensors", raw_file(R"({"__metadata__":{"k":"1","k":"2"}})", 0),
                        {"duplicate", "\"k\""});
    }

    void malformedMetadata() {
        expectOpenError("metanum.safetensors", raw_file(R"({"__metadata__":{"format":"pt","n":1}})", 0),
                        {"__metadata__", "\"n\"", "not a string"});
        expectOpenError("metaarr.safetensors", raw_file(R"({"__metadata__":["pt"]})", 0), {"__metadata__", "object"});
    }

    void malformedMissingField() {
        expectOpenError("nooffsets.safetensors", raw_file(R"({"a":{"dtype":"U8","shape":[1]}})", 1),
                        {"\"a\"", "missing", "data_offsets"});
        expectOpenError("noshape.safetensors", raw_file(R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", 1),
                        {"\"a\"", "missing", "shape"});
        expectOpenError("nodtype.safetensors", raw_file(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", 1),
                        {"\"a\"", "missing", "dtype"});
        expectOpenError("badoffsets.safetensors",
                        raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", 1),
                        {"\"a\"", "data_offsets", "two"});
    }

    void missingFile() {
        expectError([&] { st::File::open(path("absent.safetensors")); }, "absent.safetensors", {"cannot open"});
    }

    // A clone without Git LFS holds small pointer files in place of the weights (and of any large JSON): said as
    // such, with the command that fetches them, instead of a nonsense header size or a JSON parse error.
    void gitLfsPointerIsNamed() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        const std::string pointer =
            "version https://git-lfs.github.com/spec/v1\n"
            "oid sha256:2a7a9c5c5b4f8e1d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d\n"
            "size 440449768\n";
        write_bytes(d + "/model.safetensors", pointer);
        write_bytes(d + "/tokenizer.json", pointer);
        auto error_of = [](auto f) {
            try {
                f();
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        for (const std::string& e : {error_of([&] { st::File::open(d + "/model.safetensors"); }),
                                     error_of([&] { st::Checkpoint::open(d); })}) {
            QVERIFY2(e.find(d + "/model.safetensors: a Git LFS pointer") != std::string::npos, e.c_str());
            QVERIFY2(e.find("git lfs pull") != std::string::npos && e.find(" in " + d) != std::string::npos, e.c_str());
            QVERIFY2(e.find("440449768 bytes") != std::string::npos, e.c_str());
            QVERIFY2(e.find("header size") == std::string::npos, e.c_str());
        }
        const std::string j = error_of([&] { read_json_file(d + "/tokenizer.json"); });
        QVERIFY2(j.find(d + "/tokenizer.json: a Git LFS pointer") != std::string::npos, j.c_str());
        QVERIFY2(j.find("git lfs pull") != std::string::npos, j.c_str());
        // A text that merely mentions it is read as it is.
        write_bytes(d + "/notes.txt", "see version https://git-lfs.github.com/spec/v1\n");
        QCOMPARE(read_text_file(d + "/notes.txt"), std::string("see version https://git-lfs.github.com/spec/v1\n"));
    }
};

QTEST_APPLESS_MAIN(TstSafetensors)
#include "tst_safetensors.moc"
