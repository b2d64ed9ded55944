#include "core/text/components.h"

namespace ptune::text {

const json& need(const json& j, const char* key, const std::string& where, const std::string& path) {
    if (!j.is_object()) throw Error(where + ": " + path + " must be an object, not " + j.type_name());
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) throw Error(where + ": missing field " + path + "." + key);
    return *it;
}

std::string need_string(const json& j, const std::string& key, const std::string& where, const std::string& path) {
    const json& v = need(j, key.c_str(), where, path);
    if (!v.is_string())
        throw Error(where + ": " + path + "." + key + " must be a string, not " + std::string(v.type_name()));
    return v.get<std::string>();
}

bool opt_bool(const json& j, const std::string& key, bool def, const std::string& where, const std::string& path) {
    if (!j.is_object()) return def;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_boolean())
        throw Error(where + ": " + path + "." + key + " must be true or false, not " + std::string(it->type_name()));
    return it->get<bool>();
}

std::optional<std::string> opt_string(const json& j, const std::string& key, const std::string& where,
                                      const std::string& path) {
    if (!j.is_object()) return std::nullopt;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string())
        throw Error(where + ": " + path + "." + key + " must be a string, not " + std::string(it->type_name()));
    return it->get<std::string>();
}

void unsupported_type(const std::string& where, const std::string& path, const std::string& type,
                      const std::string& supported) {
    throw Error(where + ": " + path + ".type \"" + type + "\" is not supported (" + supported + ")");
}

}  // namespace ptune::text
