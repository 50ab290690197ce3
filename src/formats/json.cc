#include "formats/json.h"

#include <cmath>
#include <set>

namespace loom::json {
namespace {

// Thrown from the parser callback to abort parsing with our own message.
struct StrictError {
  std::string message;
};

}  // namespace

Result<Json> ParseStrict(std::string_view text, std::string_view what, ParseLimits limits) {
  if (text.size() > limits.max_bytes) {
    return OutOfRange(what, ": JSON has ", text.size(), " bytes, more than the limit of ",
                      limits.max_bytes);
  }
  if (!IsValidUtf8(text)) return DataLoss(what, ": JSON is not valid UTF-8");
  // nlohmann's lexer stops at a raw NUL as if the input ended there, which would hide whatever
  // follows; JSON text never contains one (in strings it must be escaped as \u0000).
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return DataLoss(what, ": JSON contains a NUL byte at offset ", nul);
  }
  std::vector<std::set<std::string>> keys;  // one set per open object
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= limits.max_depth) {
          throw StrictError{StrCat("JSON nesting deeper than the limit of ", limits.max_depth)};
        }
        if (event == Json::parse_event_t::object_start) keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case Json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (!keys.empty() && !keys.back().insert(k).second) {
          throw StrictError{StrCat("duplicate key ", QuoteForMessage(k))};
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const StrictError& e) {
    return DataLoss(what, ": ", e.message);
  } catch (const Json::exception& e) {
    return DataLoss(what, ": invalid JSON: ", e.what());
  } catch (const std::bad_alloc&) {
    return ResourceExhausted(what, ": out of memory while parsing JSON");
  }
}

const char* TypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::binary:
      return "binary";
    case Json::value_t::discarded:
      return "discarded";
  }
  return "unknown";
}

std::string JoinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return StrCat(path, ".", key);
}

bool Has(const Json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && !it->is_null();
}

namespace {

Status Lookup(const Json& obj, std::string_view path, const char* key, const Json** out) {
  if (!obj.is_object()) {
    return InvalidArgument(path.empty() ? "document" : std::string(path),
                           ": expected an object, got ", TypeName(obj));
  }
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return NotFound(JoinPath(path, key), ": missing");
  *out = &*it;
  return Status::Ok();
}

Status WrongType(std::string_view path, const char* key, const char* want, const Json& got) {
  return InvalidArgument(JoinPath(path, key), ": expected ", want, ", got ", TypeName(got));
}

}  // namespace

Status GetInt(const Json& obj, std::string_view path, const char* key, int64_t* out) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      return OutOfRange(JoinPath(path, key), ": value ", u, " exceeds the limit of ", INT64_MAX);
    }
    *out = static_cast<int64_t>(u);
    return Status::Ok();
  }
  if (v->is_number_integer()) {
    *out = v->get<int64_t>();
    return Status::Ok();
  }
  if (v->is_number_float()) {
    // Configs written by Python sometimes say 1024.0; accept exact integers only.
    double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      *out = static_cast<int64_t>(d);
      return Status::Ok();
    }
    return InvalidArgument(JoinPath(path, key), ": expected an integer, got ", d);
  }
  return WrongType(path, key, "an integer", *v);
}

Status GetDouble(const Json& obj, std::string_view path, const char* key, double* out) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (!v->is_number()) return WrongType(path, key, "a number", *v);
  *out = v->get<double>();
  if (!std::isfinite(*out)) {
    return InvalidArgument(JoinPath(path, key), ": value ", *out, " is not finite");
  }
  return Status::Ok();
}

Status GetBool(const Json& obj, std::string_view path, const char* key, bool* out) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (!v->is_boolean()) return WrongType(path, key, "a boolean", *v);
  *out = v->get<bool>();
  return Status::Ok();
}

Status GetString(const Json& obj, std::string_view path, const char* key, std::string* out) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (!v->is_string()) return WrongType(path, key, "a string", *v);
  *out = v->get<std::string>();
  return Status::Ok();
}

Status GetIntArray(const Json& obj, std::string_view path, const char* key,
                   std::vector<int64_t>* out, size_t max_len) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (!v->is_array()) return WrongType(path, key, "an array", *v);
  if (v->size() > max_len) {
    return OutOfRange(JoinPath(path, key), ": array has ", v->size(),
                      " entries, more than the limit of ", max_len);
  }
  out->clear();
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    if (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return OutOfRange(JoinPath(path, key), "[", i, "]: value exceeds ", INT64_MAX);
    }
    if (!e.is_number_integer()) {
      return InvalidArgument(JoinPath(path, key), "[", i, "]: expected an integer, got ",
                             TypeName(e));
    }
    out->push_back(e.get<int64_t>());
  }
  return Status::Ok();
}

Status GetStringArray(const Json& obj, std::string_view path, const char* key,
                      std::vector<std::string>* out, size_t max_len) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (!v->is_array()) return WrongType(path, key, "an array", *v);
  if (v->size() > max_len) {
    return OutOfRange(JoinPath(path, key), ": array has ", v->size(),
                      " entries, more than the limit of ", max_len);
  }
  out->clear();
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    if (!e.is_string()) {
      return InvalidArgument(JoinPath(path, key), "[", i, "]: expected a string, got ",
                             TypeName(e));
    }
    out->push_back(e.get<std::string>());
  }
  return Status::Ok();
}

Status GetObject(const Json& obj, std::string_view path, const char* key, const Json** out) {
  const Json* v;
  LOOM_RETURN_IF_ERROR(Lookup(obj, path, key, &v));
  if (!v->is_object()) return WrongType(path, key, "an object", *v);
  *out = v;
  return Status::Ok();
}

}  // namespace loom::json
