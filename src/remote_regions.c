#include "remote_regions.h"

void adxl_remote_regions_init(adxl_remote_regions_t *rr) {
    pthread_mutex_init(&rr->lock, NULL);
    rr->regions = (adxl_region_set_t){0};
}

void adxl_remote_regions_destroy(adxl_remote_regions_t *rr) {
    adxl_region_set_free(&rr->regions);
    pthread_mutex_destroy(&rr->lock);
}

void adxl_remote_regions_add(adxl_remote_regions_t *rr, uintptr_t addr, size_t len) {
    if (len == 0 || addr + len < addr) return;
    pthread_mutex_lock(&rr->lock);
    adxl_region_t *overlap;
    if (rr->regions.count < ADXL_REMOTE_REGIONS_MAX)
        (void)adxl_region_set_insert_disjoint(&rr->regions, addr, len, NULL, &overlap);
    pthread_mutex_unlock(&rr->lock);
}

void adxl_remote_regions_remove(adxl_remote_regions_t *rr, uintptr_t addr, size_t len) {
    pthread_mutex_lock(&rr->lock);
    (void)adxl_region_set_remove_exact(&rr->regions, addr, len, NULL);
    pthread_mutex_unlock(&rr->lock);
}

size_t adxl_remote_regions_count(adxl_remote_regions_t *rr) {
    pthread_mutex_lock(&rr->lock);
    size_t n = rr->regions.count;
    pthread_mutex_unlock(&rr->lock);
    return n;
}

bool adxl_remote_regions_contain_all(adxl_remote_regions_t *rr,
                                     const adxl_transfer_op_desc_t *descs, size_t num_descs) {
    bool all = true;
    pthread_mutex_lock(&rr->lock);
    for (size_t i = 0; all && i < num_descs; i++)
        all = adxl_region_set_containing(&rr->regions, descs[i].remote_addr, descs[i].len) != NULL;
    pthread_mutex_unlock(&rr->lock);
    return all;
}
