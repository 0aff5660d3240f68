// What the compat programs share: a check that names the failed call, the byte pattern
// both sides agree on, and polling with a deadline. Only standard C++ and POSIX: these
// programs are built against the installed adxl alone, as a user's would be.
#ifndef ADXL_TESTS_COMPAT_COMMON_H
#define ADXL_TESTS_COMPAT_COMMON_H

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#define EXPECT_OK(call)                                                                            \
    do {                                                                                           \
        auto status_ = (call);                                                                     \
        if (status_ != 0) {                                                                        \
            std::fprintf(stderr, "%s:%d: %s returned %u\n", __FILE__, __LINE__, #call,             \
                         static_cast<unsigned>(status_));                                          \
            std::exit(1);                                                                          \
        }                                                                                          \
    } while (0)

#define EXPECT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);               \
            std::exit(1);                                                                          \
        }                                                                                          \
    } while (0)

// Byte i of block `block`, as both processes compute it.
inline uint8_t pattern(uint32_t block, size_t i) {
    return static_cast<uint8_t>((block * 131u + i * 7u + (i >> 9)) & 0xff);
}

// `count` blocks of `block_size` bytes, block b holding pattern(first + b, ...).
inline std::vector<uint8_t> pattern_blocks(uint32_t first, uint32_t count, size_t block_size) {
    std::vector<uint8_t> bytes(count * block_size);
    for (uint32_t b = 0; b < count; b++)
        for (size_t i = 0; i < block_size; i++)
            bytes[b * block_size + i] = pattern(first + b, i);
    return bytes;
}

// Calls done() until it is true; false once 60 s have passed. The pause between calls
// only spares the CPU: correctness never depends on it.
template <class Done> bool poll_until(Done done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// The server's last step before it finalizes: waiting until its stdin ends, which the
// test script closes once the client has exited, so that the client's own goodbyes
// (Disconnect) never meet an engine that is already gone.
inline void wait_for_client_exit() {
    char line[64];
    while (std::fgets(line, sizeof(line), stdin)) {
    }
}

#endif
