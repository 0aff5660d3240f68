#include "transport.h"

const adxl_transport_ops_t *adxl_transport_select(const adxl_config_t *config) {
    switch (config->transport) {
    case ADXL_TRANSPORT_AUTO:
    case ADXL_TRANSPORT_TCP:
        return &adxl_tcp_transport;
    }
    return NULL;
}
