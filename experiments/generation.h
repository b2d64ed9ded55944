#pragma once
// Generating with a causal LM and, optionally, a trained prefix, for the workbench's Generate panel: the model
// is loaded once and answers prompts with the prefix or without it (the base model), streamed token by token.
// Torch-free interface, like the runner's.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/events.h"
#include "core/engine/generate_options.h"
#include "experiments/store.h"

namespace ptune {

class GenerationSession {
public:
    // Loads `model` (a directory, or "builtin-decoder") with weights in `dtype` (auto, float32, bfloat16,
    // float16) on `device`, and the PEFT prefix adapter in `adapter` (PREFIX_TUNING, CAUSAL_LM) when it is not
    // empty. Throws ptune::Error naming the directory, file or field.
    GenerationSession(const std::string& model, const std::string& adapter, const std::string& dtype = "float32",
                      const std::string& device = "cpu");
    ~GenerationSession();
    GenerationSession(const GenerationSession&) = delete;
    GenerationSession& operator=(const GenerationSession&) = delete;

    const std::string& model_dir() const;     // resolved
    const std::string& adapter_dir() const;   // "" without an adapter
    int64_t prefix_len() const;               // the adapter's virtual tokens; 0 without one
    const std::vector<std::string>& notes() const;   // what the adapter import could not keep

    // The prompt tokenized as `ptune generate` does (the tokenizer's post-processor adds its special tokens),
    // then generated from, with the prefix (with_prefix, when there is an adapter) or without it.
    Generation generate(const std::string& text, const GenerateOptions& opt, bool with_prefix,
                        const TokenCallback& on_token = {}, const CancelFlag* cancel = nullptr) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Where a stored run's trained prefix is: the run's base model (resolved) and its PEFT adapter directory.
struct RunGenerationSource {
    std::string model_dir, adapter_dir;
};
// Throws ptune::Error saying why the run has none: not a causal-LM run, no saved adapter (a failed or
// cancelled run), or its directory is gone.
RunGenerationSource generation_source_of_run(const Store& store, int64_t run_id);
// The runs of `store` that generation_source_of_run accepts, newest first.
std::vector<RunRecord> generation_runs(const Store& store);

}  // namespace ptune
