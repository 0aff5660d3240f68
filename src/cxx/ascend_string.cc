// ge::AscendString (include/adxl/ascend_string.h).
#include <adxl/ascend_string.h>

#include <cstring>

namespace ge {

namespace {
const std::string &Text(const std::shared_ptr<std::string> &name) {
    static const std::string empty;
    return name ? *name : empty;
}
} // namespace

AscendString::AscendString(const char *const name) {
    if (name) name_ = std::make_shared<std::string>(name);
}

AscendString::AscendString(const char *const name, size_t length) {
    if (name) name_ = std::make_shared<std::string>(name, length);
}

const char *AscendString::GetString() const {
    return Text(name_).c_str();
}

size_t AscendString::GetLength() const {
    return Text(name_).size();
}

size_t AscendString::Find(const AscendString &ascend_string) const {
    return Text(name_).find(Text(ascend_string.name_));
}

size_t AscendString::Hash() const {
    return std::hash<std::string>()(Text(name_));
}

bool AscendString::operator<(const AscendString &d) const {
    return Text(name_) < Text(d.name_);
}

bool AscendString::operator>(const AscendString &d) const {
    return Text(name_) > Text(d.name_);
}

bool AscendString::operator<=(const AscendString &d) const {
    return Text(name_) <= Text(d.name_);
}

bool AscendString::operator>=(const AscendString &d) const {
    return Text(name_) >= Text(d.name_);
}

bool AscendString::operator==(const AscendString &d) const {
    return Text(name_) == Text(d.name_);
}

bool AscendString::operator!=(const AscendString &d) const {
    return !(*this == d);
}

bool AscendString::operator==(const char *const d) const {
    return Text(name_) == (d ? d : "");
}

bool AscendString::operator!=(const char *const d) const {
    return !(*this == d);
}

} // namespace ge
