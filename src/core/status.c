#include <adxl/adxl.h>

#ifndef ADXL_VERSION_STRING
#define ADXL_VERSION_STRING "0.0.0"
#endif

const char *adxl_status_str(adxl_status_t status) {
    switch (status) {
    case ADXL_SUCCESS:
        return "SUCCESS";
    case ADXL_PARAM_INVALID:
        return "PARAM_INVALID";
    case ADXL_TIMEOUT:
        return "TIMEOUT";
    case ADXL_NOT_CONNECTED:
        return "NOT_CONNECTED";
    case ADXL_ALREADY_CONNECTED:
        return "ALREADY_CONNECTED";
    case ADXL_NOTIFY_FAILED:
        return "NOTIFY_FAILED";
    case ADXL_UNSUPPORTED:
        return "UNSUPPORTED";
    case ADXL_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    case ADXL_FAILED:
        return "FAILED";
    default:
        return "UNKNOWN_STATUS";
    }
}

const char *adxl_version(void) {
    return ADXL_VERSION_STRING;
}
