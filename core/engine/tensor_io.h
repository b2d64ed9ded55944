#pragma once
// Bridge between safetensors files (core/io) and LibTorch tensors.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace ptune {

// Copies a tensor out of a mapped file into an owned at::Tensor of its own dtype (CPU).
at::Tensor load_tensor(const st::File& file, const st::TensorInfo& info);
// Loads every tensor of a file.
std::map<std::string, at::Tensor> load_all(const std::string& path);
// Writes tensors (moved to CPU, made contiguous) in their own dtype.
void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace ptune
