#include "core/remote_regions.h"

void adxl_remote_regions_init(adxl_remote_regions_t *rr) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Region changes must not starve behind a steady stream of lookups and copies. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rr->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    rr->regions = (adxl_region_set_t){0};
}

void adxl_remote_regions_destroy(adxl_remote_regions_t *rr) {
    adxl_region_set_free(&rr->regions);
    pthread_rwlock_destroy(&rr->lock);
}

void adxl_remote_regions_add(adxl_remote_regions_t *rr, uintptr_t addr, size_t len) {
    if (len == 0 || addr + len < addr) return;
    pthread_rwlock_wrlock(&rr->lock);
    adxl_region_t *overlap;
    if (rr->regions.count < ADXL_REMOTE_REGIONS_MAX)
        (void)adxl_region_set_insert_disjoint(&rr->regions, addr, len, NULL, &overlap);
    pthread_rwlock_unlock(&rr->lock);
}

void adxl_remote_regions_remove(adxl_remote_regions_t *rr, uintptr_t addr, size_t len) {
    pthread_rwlock_wrlock(&rr->lock);
    (void)adxl_region_set_remove_exact(&rr->regions, addr, len, NULL);
    pthread_rwlock_unlock(&rr->lock);
}

size_t adxl_remote_regions_count(adxl_remote_regions_t *rr) {
    pthread_rwlock_rdlock(&rr->lock);
    size_t n = rr->regions.count;
    pthread_rwlock_unlock(&rr->lock);
    return n;
}

bool adxl_remote_regions_contain_all(adxl_remote_regions_t *rr,
                                     const adxl_transfer_op_desc_t *descs, size_t num_descs) {
    bool all = true;
    pthread_rwlock_rdlock(&rr->lock);
    for (size_t i = 0; all && i < num_descs; i++)
        all = adxl_region_set_containing(&rr->regions, descs[i].remote_addr, descs[i].len) != NULL;
    pthread_rwlock_unlock(&rr->lock);
    return all;
}
