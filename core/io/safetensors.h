#pragma once
// safetensors: https://github.com/huggingface/safetensors (format spec in its README).
// Reader: memory-mapped, validates every rule of the format (8-byte little-endian header size with an upper
// bound, UTF-8 JSON header object, known dtypes, shape x dtype size == byte span, offsets contiguous from 0
// and in bounds, file size exact, no duplicate keys, "__metadata__" a string->string map).
// Writer: tensors sorted by name (as the Python library does), header padded with spaces to 8 bytes.
// Torch-free: tensors are exposed as raw bytes; core/engine/tensor_io.h converts to at::Tensor.
// Unknown fields inside a tensor entry are ignored (as the Rust crate does); everything else is checked.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/error.h"

namespace ptune::st {

// F8_E4M3 is the "fn" variant (no infinities, NaN = S.1111.111) used by torch.float8_e4m3fn.
enum class DType { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

const char* dtype_name(DType d);          // "F32", ...
size_t dtype_size(DType d);               // bytes per element
DType dtype_from_name(const std::string& s);  // throws ptune::Error for an unknown name

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets relative to the start of the data section
    uint64_t end = 0;
    int64_t numel() const;
};

// One memory-mapped safetensors file. Movable, not copyable; the mapping lives as long as the object.
class File {
public:
    static File open(const std::string& path);  // throws ptune::Error naming the path and the rule broken
    File(File&&) noexcept;
    File& operator=(File&&) noexcept;
    ~File();

    const std::string& path() const;
    const std::vector<TensorInfo>& tensors() const;        // in header order (as they appear in the JSON text)
    const TensorInfo* find(const std::string& name) const;  // nullptr when absent
    const uint8_t* data(const TensorInfo& t) const;         // pointer to the tensor's bytes (little-endian)
    const std::map<std::string, std::string>& metadata() const;
    uint64_t header_size() const;  // N: length of the JSON header; the data section starts at 8 + N
    uint64_t file_size() const;

private:
    File();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Element conversion (exact: every F16, BF16 and F8 value is representable as a float; NaN stays NaN).
float f16_to_f32(uint16_t bits);
float bf16_to_f32(uint16_t bits);
float f8_e4m3_to_f32(uint8_t bits);
float f8_e5m2_to_f32(uint8_t bits);
// A tensor's elements as floats (row-major), for every dtype; BOOL gives 0/1, 64-bit integers round to
// the nearest float. Throws ptune::Error if `t` is not a tensor of `f`.
std::vector<float> to_float32(const File& f, const TensorInfo& t);

// A tensor to write: raw little-endian bytes in row-major order.
struct TensorData {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

// Writes a safetensors file (atomically: to a temporary file in the same folder, then renamed).
// Header: compact JSON, "__metadata__" first (omitted when empty), then tensors sorted by name, each as
// {"dtype":..,"shape":[..],"data_offsets":[b,e]}; padded with spaces to a multiple of 8 bytes.
// Throws ptune::Error naming the tensor for a duplicate or reserved name, a negative dimension, or
// bytes.size() != numel * dtype_size.
void write(const std::string& path, const std::vector<TensorData>& tensors,
           const std::map<std::string, std::string>& metadata = {});

// A checkpoint: either one model.safetensors, or shards listed by model.safetensors.index.json
// ("weight_map": name -> shard file). Looks up tensors by name across shards.
class Checkpoint {
public:
    // dir_or_file: a model directory (model.safetensors or model.safetensors.index.json inside; the single
    // file wins when both exist) or a file (a .safetensors file, or a *.index.json file). With an index,
    // only the tensors listed in its weight_map are visible; every listed tensor must exist in its shard.
    static Checkpoint open(const std::string& dir_or_file);
    std::vector<std::string> names() const;  // sorted
    bool contains(const std::string& name) const;
    // The file holding `name` and its info; throws ptune::Error naming the tensor and the checkpoint.
    std::pair<const File*, const TensorInfo*> get(const std::string& name) const;
    const std::string& source() const { return source_; }

private:
    std::string source_;
    std::vector<std::shared_ptr<File>> files_;
    std::map<std::string, std::pair<size_t, const TensorInfo*>> index_;
};

}  // namespace ptune::st
