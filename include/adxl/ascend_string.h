/*
 * ge::AscendString: the string type of CANN's engine APIs (names, option keys and values,
 * notify contents), declared as CANN declares it so that client code written for CANN
 * (std::map<AscendString, AscendString> options, GetString(), comparisons with C strings,
 * std::unordered_map keys) compiles unchanged. Defined in libadxl_cxx.
 *
 * A default-constructed string, and one made from nullptr, is empty: GetString() gives
 * "" and GetLength() 0. Copies share the characters, which are never changed in place.
 */
#ifndef ADXL_ASCEND_STRING_H
#define ADXL_ASCEND_STRING_H

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#if defined(__GNUC__)
#define ADXL_CXX_API __attribute__((visibility("default")))
#else
#define ADXL_CXX_API
#endif

namespace ge {

class ADXL_CXX_API AscendString {
  public:
    AscendString() = default;
    ~AscendString() = default;
    /* Implicit on purpose: CANN's clients pass string literals where an AscendString is
     * expected (Initialize("127.0.0.1:26000", options), options["AutoConnect"] = "1"). */
    AscendString(const char *const name);
    AscendString(const char *const name, size_t length);

    const char *GetString() const;
    size_t GetLength() const;
    /* Offset of the first occurrence of ascend_string, std::string::npos when absent. */
    size_t Find(const AscendString &ascend_string) const;
    size_t Hash() const;

    bool operator<(const AscendString &d) const;
    bool operator>(const AscendString &d) const;
    bool operator<=(const AscendString &d) const;
    bool operator>=(const AscendString &d) const;
    bool operator==(const AscendString &d) const;
    bool operator!=(const AscendString &d) const;
    bool operator==(const char *const d) const;
    bool operator!=(const char *const d) const;

  private:
    std::shared_ptr<std::string> name_;
};

} // namespace ge

namespace std {
template <> struct hash<ge::AscendString> {
    size_t operator()(const ge::AscendString &name) const {
        return name.Hash();
    }
};
} // namespace std

#endif
