#include "core/engine/tensor_io.h"

#include <cstring>

namespace ptune {

namespace {
at::ScalarType to_scalar(st::DType d, const std::string& name) {
    switch (d) {
        case st::DType::BOOL: return at::kBool;
        case st::DType::U8: return at::kByte;
        case st::DType::I8: return at::kChar;
        case st::DType::I16: return at::kShort;
        case st::DType::F16: return at::kHalf;
        case st::DType::BF16: return at::kBFloat16;
        case st::DType::I32: return at::kInt;
        case st::DType::F32: return at::kFloat;
        case st::DType::F64: return at::kDouble;
        case st::DType::I64: return at::kLong;
        default: break;
    }
    throw Error("tensor \"" + name + "\": dtype " + st::dtype_name(d) + " has no LibTorch equivalent");
}

st::DType from_scalar(at::ScalarType s, const std::string& name) {
    switch (s) {
        case at::kBool: return st::DType::BOOL;
        case at::kByte: return st::DType::U8;
        case at::kChar: return st::DType::I8;
        case at::kShort: return st::DType::I16;
        case at::kHalf: return st::DType::F16;
        case at::kBFloat16: return st::DType::BF16;
        case at::kInt: return st::DType::I32;
        case at::kFloat: return st::DType::F32;
        case at::kDouble: return st::DType::F64;
        case at::kLong: return st::DType::I64;
        default: break;
    }
    throw Error("tensor \"" + name + "\": dtype " + std::string(c10::toString(s)) + " cannot be saved");
}
}  // namespace

at::Tensor load_tensor(const st::File& file, const st::TensorInfo& info) {
    auto dtype = to_scalar(info.dtype, info.name);
    at::Tensor t = at::empty(info.shape, at::TensorOptions().dtype(dtype));
    size_t bytes = info.end - info.begin;
    if (bytes) std::memcpy(t.data_ptr(), file.data(info), bytes);
    return t;
}

std::map<std::string, at::Tensor> load_all(const std::string& path) {
    auto f = st::File::open(path);
    std::map<std::string, at::Tensor> out;
    for (const auto& info : f.tensors()) out.emplace(info.name, load_tensor(f, info));
    return out;
}

void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
    std::vector<st::TensorData> data;
    data.reserve(tensors.size());
    for (const auto& [name, t0] : tensors) {
        at::Tensor t = t0.detach().to(at::kCPU).contiguous();
        st::TensorData d;
        d.name = name;
        d.dtype = from_scalar(t.scalar_type(), name);
        d.shape = t.sizes().vec();
        d.bytes.resize(t.numel() * t.element_size());
        if (!d.bytes.empty()) std::memcpy(d.bytes.data(), t.data_ptr(), d.bytes.size());
        data.push_back(std::move(d));
    }
    st::write(path, data, metadata);
}

}  // namespace ptune
