#include "experiments/generation.h"

#include <filesystem>

#include "core/engine/generate.h"
#include "core/io/error.h"
#include "experiments/runner.h"
#include "experiments/spec.h"

namespace fs = std::filesystem;

namespace ptune {

struct GenerationSession::Impl {
    std::string model_dir, adapter_dir;
    DecoderWithPrefix decoder;
    std::unique_ptr<Tokenizer> tokenizer;
};

GenerationSession::GenerationSession(const std::string& model, const std::string& adapter, const std::string& dtype,
                                     const std::string& device)
    : impl_(std::make_unique<Impl>()) {
    impl_->model_dir = resolve_model_dir(model);
    require_causal_lm_dir(impl_->model_dir);
    impl_->adapter_dir = adapter;
    impl_->decoder = load_decoder_with_prefix(impl_->model_dir, adapter, parse_weight_dtype(dtype, "dtype"), device);
    impl_->tokenizer = Tokenizer::from_dir(impl_->model_dir);
}

GenerationSession::~GenerationSession() = default;

const std::string& GenerationSession::model_dir() const { return impl_->model_dir; }
const std::string& GenerationSession::adapter_dir() const { return impl_->adapter_dir; }
int64_t GenerationSession::prefix_len() const {
    return impl_->decoder.prompt ? impl_->decoder.prompt->prompt_len() : 0;
}
const std::vector<std::string>& GenerationSession::notes() const { return impl_->decoder.notes; }

Generation GenerationSession::generate(const std::string& text, const GenerateOptions& opt, bool with_prefix,
                                       const TokenCallback& on_token, const CancelFlag* cancel) const {
    std::vector<int64_t> ids = impl_->tokenizer->encode(text).ids;
    if (ids.empty()) throw Error("the prompt has no tokens");
    return ptune::generate(*impl_->decoder.model, impl_->tokenizer.get(), ids,
                           with_prefix ? impl_->decoder.prefix_ptr() : nullptr, opt, on_token, cancel);
}

RunGenerationSource generation_source_of_run(const Store& store, int64_t run_id) {
    auto rec = store.run(run_id);
    const std::string name = "run " + std::to_string(run_id);
    if (!rec) throw Error(store.path() + ": no run with id " + std::to_string(run_id));
    ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), name);
    if (spec.task != "causal-lm")
        throw Error(name + " trained a " + spec.task + " model, not a causal LM's prefix: it does not generate");
    std::string peft;
    for (const auto& a : store.artifacts(run_id))
        if (a.kind == "peft_adapter") peft = a.path;
    if (peft.empty())
        throw Error(name + " (" + rec->status + ") has no saved adapter" +
                    (rec->status == "failed" ? ": it failed (" + rec->status_reason + ")" : ""));
    if (!fs::exists(fs::path(peft) / "adapter_config.json"))
        throw Error(name + ": its adapter directory " + peft + " is gone");
    return {resolve_model_dir(spec.model), peft};
}

std::vector<RunRecord> generation_runs(const Store& store) {
    std::vector<RunRecord> out;
    for (const RunRecord& r : store.runs()) {
        if (r.spec_json.find("causal-lm") == std::string::npos) continue;   // cheap filter before parsing
        try {
            (void)generation_source_of_run(store, r.id);
            out.push_back(r);
        } catch (const std::exception&) {
        }
    }
    std::sort(out.begin(), out.end(), [](const RunRecord& a, const RunRecord& b) { return a.id > b.id; });
    return out;
}

}  // namespace ptune
