#include "core/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/io/json_util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ptune's safetensors reader assumes a little-endian host"
#endif

namespace ptune::st {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// The Rust crate refuses headers above 100 MB (MAX_HEADER_SIZE).
static constexpr uint64_t kMaxHeaderSize = 100'000'000;

namespace {

struct DTypeEntry {
    DType d;
    const char* name;
    size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},           {DType::I8, "I8", 1},
    {DType::I16, "I16", 2},   {DType::U16, "U16", 2},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I32, "I32", 4},         {DType::U32, "U32", 4},
    {DType::F32, "F32", 4},   {DType::F64, "F64", 8},         {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},   {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
};

const DTypeEntry& entry(DType d) {
    for (const auto& e : kDTypes)
        if (e.d == d) return e;
    throw Error("safetensors: invalid DType value " + std::to_string(static_cast<int>(d)));
}

const DTypeEntry* entry_by_name(const std::string& s) {
    for (const auto& e : kDTypes)
        if (s == e.name) return &e;
    return nullptr;
}

std::string qname(const std::string& s) { return "\"" + s + "\""; }

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

std::string offsets_str(uint64_t b, uint64_t e) { return "[" + std::to_string(b) + ", " + std::to_string(e) + "]"; }

// numel * elem_size with overflow checks; false when it does not fit (numel must also fit int64).
bool byte_size(const std::vector<int64_t>& shape, size_t elem_size, uint64_t& numel, uint64_t& bytes) {
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return false;
        if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
    }
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    uint64_t b = 0;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(elem_size), &b)) return false;
    numel = n;
    bytes = b;
    return true;
}

const char* json_type(const ojson& j) { return j.type_name(); }

// A JSON value that is a non-negative integer (nlohmann keeps those as number_unsigned).
bool as_uint(const ojson& j, uint64_t& out) {
    if (!j.is_number_unsigned()) return false;
    out = j.get<uint64_t>();
    return true;
}

}  // namespace

const char* dtype_name(DType d) { return entry(d).name; }
size_t dtype_size(DType d) { return entry(d).size; }

DType dtype_from_name(const std::string& s) {
    const DTypeEntry* e = entry_by_name(s);
    if (!e) throw Error("unknown safetensors dtype " + qname(s));
    return e->d;
}

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// ---------------------------------------------------------------------------------------------------
// File

struct File::Impl {
    std::string path;
    const uint8_t* map = nullptr;
    uint64_t size = 0;
    uint64_t header_size = 0;
    std::vector<TensorInfo> tensors;
    std::unordered_map<std::string, size_t> by_name;
    std::map<std::string, std::string> metadata;

    ~Impl() {
        if (map) munmap(const_cast<uint8_t*>(map), size);
    }
};

File::File() : impl_(std::make_unique<Impl>()) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

const std::string& File::path() const { return impl_->path; }
const std::vector<TensorInfo>& File::tensors() const { return impl_->tensors; }
const std::map<std::string, std::string>& File::metadata() const { return impl_->metadata; }
uint64_t File::header_size() const { return impl_->header_size; }
uint64_t File::file_size() const { return impl_->size; }

const TensorInfo* File::find(const std::string& name) const {
    auto it = impl_->by_name.find(name);
    return it == impl_->by_name.end() ? nullptr : &impl_->tensors[it->second];
}

const uint8_t* File::data(const TensorInfo& t) const {
    const TensorInfo* own = find(t.name);
    if (!own || own->begin != t.begin || own->end != t.end)
        throw Error(impl_->path + ": no tensor " + qname(t.name) + " with data_offsets " + offsets_str(t.begin, t.end));
    return impl_->map + 8 + impl_->header_size + t.begin;
}

File File::open(const std::string& path) {
    File f;
    Impl& im = *f.impl_;
    im.path = path;

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        throw Error(path + ": cannot stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < 8) {
        ::close(fd);
        throw Error(path + ": truncated: the file is " + std::to_string(size) +
                    " bytes, too short for the 8-byte header size");
    }
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    ::close(fd);
    if (m == MAP_FAILED) throw Error(path + ": cannot mmap: " + std::strerror(map_errno));
    im.map = static_cast<const uint8_t*>(m);
    im.size = size;

    if (is_git_lfs_pointer(reinterpret_cast<const char*>(im.map), size))
        throw Error(git_lfs_pointer_message(path, reinterpret_cast<const char*>(im.map), size));
    uint64_t n = 0;
    std::memcpy(&n, im.map, 8);  // little-endian host (checked at compile time)
    if (n > kMaxHeaderSize)
        throw Error(path + ": header size " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(kMaxHeaderSize) + " bytes");
    if (n > size - 8)
        throw Error(path + ": header size " + std::to_string(n) + " exceeds the file size minus 8 (" +
                    std::to_string(size - 8) + " bytes): truncated or not a safetensors file");
    im.header_size = n;
    const char* text = reinterpret_cast<const char*>(im.map + 8);
    const uint64_t data_size = size - 8 - n;

    // Parse, detecting duplicate keys at any depth (nlohmann would silently keep the last one).
    std::vector<std::unordered_set<std::string>> seen;
    std::vector<std::string> last_key;
    std::string duplicate, duplicate_parent;
    auto cb = [&](int /*depth*/, ojson::parse_event_t ev, ojson& parsed) {
        switch (ev) {
            case ojson::parse_event_t::object_start:
                seen.emplace_back();
                last_key.emplace_back();
                break;
            case ojson::parse_event_t::key: {
                std::string k = parsed.get<std::string>();
                if (!seen.empty()) {
                    if (!seen.back().insert(k).second && duplicate.empty()) {
                        duplicate = k;
                        duplicate_parent = last_key.size() >= 2 ? last_key[last_key.size() - 2] : "";
                    }
                    last_key.back() = k;
                }
                break;
            }
            case ojson::parse_event_t::object_end:
                if (!seen.empty()) {
                    seen.pop_back();
                    last_key.pop_back();
                }
                break;
            default:
                break;
        }
        return true;
    };
    ojson header;
    try {
        header = ojson::parse(text, text + n, cb);
    } catch (const ojson::exception& e) {
        throw Error(path + ": header is not valid UTF-8 JSON: " + e.what());
    }
    if (!duplicate.empty()) {
        std::string where = duplicate_parent.empty() ? "in the header" : "inside " + qname(duplicate_parent);
        throw Error(path + ": duplicate key " + qname(duplicate) + " " + where);
    }
    if (!header.is_object())
        throw Error(path + ": header is not a JSON object (it is " + std::string(json_type(header)) + ")");
    if (n == 0 || text[0] != '{') throw Error(path + ": header must start with '{' (no leading whitespace)");

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const ojson& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object())
                throw Error(path + ": \"__metadata__\" is not an object of strings (it is " +
                            std::string(json_type(v)) + ")");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string())
                    throw Error(path + ": \"__metadata__\" value for key " + qname(m.key()) + " is not a string (it is " +
                                std::string(json_type(m.value())) + ")");
                im.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = path + ": tensor " + qname(name) + ": ";
        if (!v.is_object()) throw Error(where + "entry is not a JSON object (it is " + std::string(json_type(v)) + ")");
        TensorInfo t;
        t.name = name;

        auto d = v.find("dtype");
        if (d == v.end()) throw Error(where + "missing \"dtype\"");
        if (!d->is_string()) throw Error(where + "\"dtype\" is not a string");
        const DTypeEntry* de = entry_by_name(d->get<std::string>());
        if (!de) throw Error(where + "unknown dtype " + qname(d->get<std::string>()));
        t.dtype = de->d;

        auto s = v.find("shape");
        if (s == v.end()) throw Error(where + "missing \"shape\"");
        if (!s->is_array()) throw Error(where + "\"shape\" is not an array");
        for (const auto& dim : *s) {
            uint64_t u = 0;
            if (!as_uint(dim, u) || u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                throw Error(where + "shape entry " + dim.dump() + " is not a non-negative integer");
            t.shape.push_back(static_cast<int64_t>(u));
        }

        auto o = v.find("data_offsets");
        if (o == v.end()) throw Error(where + "missing \"data_offsets\"");
        if (!o->is_array() || o->size() != 2 || !as_uint((*o)[0], t.begin) || !as_uint((*o)[1], t.end))
            throw Error(where + "\"data_offsets\" is not an array of two non-negative integers: " + o->dump());
        if (t.end < t.begin)
            throw Error(where + "data_offsets " + offsets_str(t.begin, t.end) + " end before they begin");

        uint64_t numel = 0, bytes = 0;
        if (!byte_size(t.shape, de->size, numel, bytes))
            throw Error(where + "shape " + shape_str(t.shape) + " overflows the element count / byte size");
        if (bytes != t.end - t.begin)
            throw Error(where + "shape " + shape_str(t.shape) + " of " + de->name + " needs " + std::to_string(bytes) +
                        " bytes but data_offsets " + offsets_str(t.begin, t.end) + " span " +
                        std::to_string(t.end - t.begin) + " bytes (size mismatch)");
        if (t.end > data_size)
            throw Error(where + "data_offsets " + offsets_str(t.begin, t.end) + " extend beyond the data section (" +
                        std::to_string(data_size) + " bytes): file truncated");

        im.by_name.emplace(name, im.tensors.size());
        im.tensors.push_back(std::move(t));
    }

    // Contiguity: sorted by offsets, each tensor starts where the previous ended, from 0 to the end.
    std::vector<const TensorInfo*> order;
    order.reserve(im.tensors.size());
    for (const auto& t : im.tensors) order.push_back(&t);
    std::stable_sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t pos = 0;
    const TensorInfo* prev = nullptr;
    for (const TensorInfo* t : order) {
        const std::string where = path + ": tensor " + qname(t->name) + ": data_offsets " + offsets_str(t->begin, t->end);
        if (t->begin > pos)
            throw Error(where + " leave a gap of " + std::to_string(t->begin - pos) + " bytes after " +
                        (prev ? "tensor " + qname(prev->name) : std::string("the start of the data section")));
        if (t->begin < pos)
            throw Error(where + " overlap the previous tensor " + qname(prev->name) + " (which ends at " +
                        std::to_string(pos) + ")");
        pos = t->end;
        prev = t;
    }
    if (pos != data_size)
        throw Error(path + ": " + std::to_string(data_size - pos) + " trailing bytes after the last tensor (data section is " +
                    std::to_string(data_size) + " bytes, tensors cover " + std::to_string(pos) + ")");
    return f;
}

// ---------------------------------------------------------------------------------------------------
// Conversion

float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24, exact in float
        float v = std::ldexp(static_cast<float>(mant), -24);
        return sign ? -v : v;
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);  // inf, or NaN keeping the payload
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

float bf16_to_f32(uint16_t b) {
    uint32_t bits = static_cast<uint32_t>(b) << 16;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

float f8_e5m2_to_f32(uint8_t b) { return f16_to_f32(static_cast<uint16_t>(b) << 8); }

float f8_e4m3_to_f32(uint8_t b) {
    const bool neg = b & 0x80u;
    const int exp = (b >> 3) & 0xF;
    const int mant = b & 0x7;
    float v;
    if (exp == 15 && mant == 7)
        v = std::numeric_limits<float>::quiet_NaN();
    else if (exp == 0)
        v = std::ldexp(static_cast<float>(mant), -9);
    else
        v = std::ldexp(static_cast<float>(8 + mant), exp - 10);
    return neg ? -v : v;
}

namespace {
template <class T, class F>
void convert(const uint8_t* p, size_t n, std::vector<float>& out, F f) {
    for (size_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, p + i * sizeof(T), sizeof(T));
        out[i] = f(v);
    }
}
template <class T>
void convert_cast(const uint8_t* p, size_t n, std::vector<float>& out) {
    convert<T>(p, n, out, [](T v) { return static_cast<float>(v); });
}
}  // namespace

std::vector<float> to_float32(const File& f, const TensorInfo& t) {
    const uint8_t* p = f.data(t);
    const size_t n = static_cast<size_t>(t.numel());
    std::vector<float> out(n);
    switch (t.dtype) {
        case DType::BOOL: convert<uint8_t>(p, n, out, [](uint8_t v) { return v ? 1.0f : 0.0f; }); break;
        case DType::U8: convert_cast<uint8_t>(p, n, out); break;
        case DType::I8: convert_cast<int8_t>(p, n, out); break;
        case DType::I16: convert_cast<int16_t>(p, n, out); break;
        case DType::U16: convert_cast<uint16_t>(p, n, out); break;
        case DType::F16: convert<uint16_t>(p, n, out, f16_to_f32); break;
        case DType::BF16: convert<uint16_t>(p, n, out, bf16_to_f32); break;
        case DType::I32: convert_cast<int32_t>(p, n, out); break;
        case DType::U32: convert_cast<uint32_t>(p, n, out); break;
        case DType::F32: if (n) std::memcpy(out.data(), p, n * 4); break;
        case DType::F64: convert_cast<double>(p, n, out); break;
        case DType::I64: convert_cast<int64_t>(p, n, out); break;
        case DType::U64: convert_cast<uint64_t>(p, n, out); break;
        case DType::F8_E4M3: convert<uint8_t>(p, n, out, f8_e4m3_to_f32); break;
        case DType::F8_E5M2: convert<uint8_t>(p, n, out, f8_e5m2_to_f32); break;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Writer

namespace {
void write_all(int fd, const void* buf, size_t len, const std::string& path) {
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
        ssize_t w = ::write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw Error(path + ": write error: " + std::strerror(errno));
        }
        p += w;
        len -= static_cast<size_t>(w);
    }
}

std::string json_string(const std::string& s, const std::string& path, const std::string& what) {
    try {
        return ojson(s).dump();
    } catch (const ojson::exception& e) {
        throw Error(path + ": " + what + " " + qname(s) + " is not valid UTF-8");
    }
}
}  // namespace

void write(const std::string& path, const std::vector<TensorData>& tensors,
           const std::map<std::string, std::string>& metadata) {
    std::vector<const TensorData*> order;
    order.reserve(tensors.size());
    for (const auto& t : tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const TensorData* a, const TensorData* b) { return a->name < b->name; });

    std::string header = "{";
    if (!metadata.empty()) {
        header += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [k, v] : metadata) {
            if (!first) header += ",";
            first = false;
            header += json_string(k, path, "metadata key") + ":" + json_string(v, path, "metadata value");
        }
        header += "}";
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < order.size(); ++i) {
        const TensorData& t = *order[i];
        const std::string where = path + ": tensor " + qname(t.name) + ": ";
        if (t.name == "__metadata__") throw Error(where + "the name \"__metadata__\" is reserved");
        if (i > 0 && order[i - 1]->name == t.name) throw Error(where + "duplicate tensor name");
        for (int64_t d : t.shape)
            if (d < 0) throw Error(where + "shape " + shape_str(t.shape) + " has a negative dimension");
        uint64_t numel = 0, bytes = 0;
        const size_t esize = dtype_size(t.dtype);
        if (!byte_size(t.shape, esize, numel, bytes))
            throw Error(where + "shape " + shape_str(t.shape) + " overflows the element count / byte size");
        if (t.bytes.size() != bytes)
            throw Error(where + "has " + std::to_string(t.bytes.size()) + " bytes but shape " + shape_str(t.shape) +
                        " of " + dtype_name(t.dtype) + " needs " + std::to_string(bytes));
        if (header.size() > 1) header += ",";
        header += json_string(t.name, path, "tensor name") + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":[";
        for (size_t k = 0; k < t.shape.size(); ++k) header += (k ? "," : "") + std::to_string(t.shape[k]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
        offset += bytes;
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');
    if (header.size() > kMaxHeaderSize)
        throw Error(path + ": header size " + std::to_string(header.size()) + " exceeds the limit of " +
                    std::to_string(kMaxHeaderSize) + " bytes");

    fs::path target(path);
    fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(path + ": cannot create folder " + dir.string() + ": " + ec.message());
    std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
    std::vector<char> tmpbuf(tmpl.begin(), tmpl.end());
    tmpbuf.push_back('\0');
    int fd = mkstemp(tmpbuf.data());
    if (fd < 0) throw Error(path + ": cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno));
    const std::string tmp(tmpbuf.data());
    try {
        fchmod(fd, 0644);
        const uint64_t n = header.size();
        write_all(fd, &n, 8, path);  // little-endian host
        write_all(fd, header.data(), header.size(), path);
        for (const TensorData* t : order)
            if (!t->bytes.empty()) write_all(fd, t->bytes.data(), t->bytes.size(), path);
        if (fsync(fd) != 0) throw Error(path + ": fsync failed: " + std::strerror(errno));
        if (::close(fd) != 0) {
            fd = -1;
            throw Error(path + ": close failed: " + std::strerror(errno));
        }
        fd = -1;
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(path + ": cannot rename the temporary file into place: " + std::strerror(errno));
    } catch (...) {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
}

// ---------------------------------------------------------------------------------------------------
// Checkpoint

namespace {
constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Checkpoint Checkpoint::open(const std::string& dir_or_file) {
    Checkpoint c;
    fs::path p(dir_or_file);
    std::error_code ec;
    fs::path single, index;
    if (fs::is_directory(p, ec)) {
        if (fs::is_regular_file(p / kSingle, ec)) {
            single = p / kSingle;
        } else if (fs::is_regular_file(p / kIndex, ec)) {
            index = p / kIndex;
        } else {
            std::string msg = dir_or_file + ": no " + kSingle + " or " + kIndex + " in this folder";
            if (fs::exists(p / "pytorch_model.bin", ec) || fs::exists(p / "pytorch_model.bin.index.json", ec))
                msg += " (pytorch_model.bin is not supported: convert the checkpoint to safetensors)";
            throw Error(msg);
        }
    } else if (fs::is_regular_file(p, ec)) {
        if (ends_with(p.filename().string(), ".index.json"))
            index = p;
        else
            single = p;
    } else {
        throw Error(dir_or_file + ": no such file or folder");
    }

    if (!single.empty()) {
        c.source_ = single.string();
        c.files_.push_back(std::make_shared<File>(File::open(c.source_)));
        for (const auto& t : c.files_[0]->tensors()) c.index_[t.name] = {0, &t};
        return c;
    }

    c.source_ = index.string();
    const json j = read_json_file(c.source_);
    if (!j.is_object()) throw Error(c.source_ + ": not a JSON object");
    auto wm = j.find("weight_map");
    if (wm == j.end()) throw Error(c.source_ + ": missing \"weight_map\"");
    if (!wm->is_object()) throw Error(c.source_ + ": \"weight_map\" is not an object of tensor name -> shard file");
    const fs::path base = index.parent_path();
    std::map<std::string, size_t> shard_index;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        const std::string& name = it.key();
        if (!it.value().is_string())
            throw Error(c.source_ + ": weight_map entry for tensor " + qname(name) + " is not a string");
        const std::string shard = it.value().get<std::string>();
        if (shard.empty() || fs::path(shard).is_absolute())
            throw Error(c.source_ + ": weight_map entry for tensor " + qname(name) + ": shard " + qname(shard) +
                        " must be a file name relative to the index's folder");
        auto si = shard_index.find(shard);
        if (si == shard_index.end()) {
            const fs::path shard_path = base / shard;
            if (!fs::is_regular_file(shard_path, ec))
                throw Error(c.source_ + ": shard " + qname(shard) + " (listed for tensor " + qname(name) +
                            ") is missing: " + shard_path.string());
            c.files_.push_back(std::make_shared<File>(File::open(shard_path.string())));
            si = shard_index.emplace(shard, c.files_.size() - 1).first;
        }
        const TensorInfo* t = c.files_[si->second]->find(name);
        if (!t)
            throw Error(c.source_ + ": tensor " + qname(name) + " is listed in shard " + qname(shard) +
                        " but that shard has no such tensor");
        c.index_[name] = {si->second, t};
    }
    return c;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(index_.size());
    for (const auto& kv : index_) out.push_back(kv.first);
    return out;
}

bool Checkpoint::contains(const std::string& name) const { return index_.count(name) != 0; }

std::pair<const File*, const TensorInfo*> Checkpoint::get(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw Error(source_ + ": checkpoint has no tensor " + qname(name));
    return {files_[it->second.first].get(), it->second.second};
}

}  // namespace ptune::st
