/* Logging to stderr, filtered by the ADXL_LOG_LEVEL environment variable. */
#ifndef ADXL_LOG_H
#define ADXL_LOG_H

enum adxl_log_level {
    ADXL_LOG_NONE = 0,
    ADXL_LOG_ERROR = 1,
    ADXL_LOG_WARN = 2,
    ADXL_LOG_INFO = 3,
    ADXL_LOG_DEBUG = 4,
};

int adxl_log_enabled(enum adxl_log_level level);
void adxl_log_write(enum adxl_log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An expression, so that PARAM_INVALID below can log and yield a status. */
#define ADXL_LOG_(level, ...)                                                                      \
    (adxl_log_enabled(level) ? adxl_log_write(level, __func__, __VA_ARGS__) : (void)0)

#define LOG_ERROR(...) ADXL_LOG_(ADXL_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) ADXL_LOG_(ADXL_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) ADXL_LOG_(ADXL_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) ADXL_LOG_(ADXL_LOG_DEBUG, __VA_ARGS__)

/* Logs why an argument was refused and evaluates to ADXL_PARAM_INVALID. */
#define PARAM_INVALID(...) (LOG_ERROR(__VA_ARGS__), ADXL_PARAM_INVALID)

#endif
