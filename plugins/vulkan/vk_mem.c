/*
 * vk_mem.c - handle tables, device buffers and copies.
 *
 * Every buffer is a VkBuffer (storage + transfer source/destination) bound
 * to its own VkDeviceMemory. Where the device offers device-local memory
 * that is host-visible and coherent in its main heap (lavapipe, integrated
 * GPUs, resizable BAR), buffers are mapped persistently and copies are
 * plain memcpy (calls are synchronous, so no work can be in flight on
 * them); elsewhere copies go through a per-context staging buffer and
 * vkCmdCopyBuffer.
 */
#include "vk.h"

#include <stdlib.h>
#include <string.h>

/* ---- handle tables ---- */

int vk_table_init(vk_table *t) {
    memset(t, 0, sizeof *t);
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    /* frees and allocs are not starved by a stream of lookups */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int ok = pthread_rwlock_init(&t->lock, &a) == 0;
    pthread_rwlockattr_destroy(&a);
    return ok;
}

void vk_table_destroy(vk_table *t) {
    free(t->obj);
    free(t->gen);
    free(t->free_slots);
    pthread_rwlock_destroy(&t->lock);
    t->obj = NULL;
    t->gen = NULL;
    t->free_slots = NULL;
    t->cap = t->used = t->n_free = 0;
}

int vk_table_put(vk_table *t, void *obj, uint64_t *out_handle) {
    pthread_rwlock_wrlock(&t->lock);
    uint32_t slot;
    if (t->n_free > 0) {
        slot = t->free_slots[--t->n_free];
    } else {
        if (t->used == t->cap) {
            if (t->cap >= (1u << 30)) {
                pthread_rwlock_unlock(&t->lock);
                return 0;
            }
            uint32_t cap = t->cap ? 2 * t->cap : 64;
            void **obj2 = realloc(t->obj, cap * sizeof *obj2);
            if (obj2) t->obj = obj2;
            uint32_t *gen2 = obj2 ? realloc(t->gen, cap * sizeof *gen2) : NULL;
            if (gen2) t->gen = gen2;
            uint32_t *free2 = gen2 ? realloc(t->free_slots, cap * sizeof *free2) : NULL;
            if (!free2) {
                pthread_rwlock_unlock(&t->lock);
                return 0;
            }
            t->free_slots = free2;
            t->cap = cap;
        }
        slot = t->used++;
        t->gen[slot] = 1;
    }
    t->obj[slot] = obj;
    *out_handle = ((uint64_t)t->gen[slot] << 32) | (uint64_t)(slot + 1);
    pthread_rwlock_unlock(&t->lock);
    return 1;
}

void *vk_table_get(vk_table *t, uint64_t handle) {
    uint64_t slot = (handle & 0xffffffffu) - 1;
    uint32_t gen = (uint32_t)(handle >> 32);
    void *o = NULL;
    pthread_rwlock_rdlock(&t->lock);
    if (slot < t->used && t->gen[slot] == gen && t->obj[slot]) {
        o = t->obj[slot];
        atomic_fetch_add_explicit((_Atomic uint32_t *)o, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&t->lock);
    return o;
}

void *vk_table_take(vk_table *t, uint64_t handle) {
    uint64_t slot = (handle & 0xffffffffu) - 1;
    uint32_t gen = (uint32_t)(handle >> 32);
    void *o = NULL;
    pthread_rwlock_wrlock(&t->lock);
    if (slot < t->used && t->gen[slot] == gen && t->obj[slot]) {
        o = t->obj[slot];
        t->obj[slot] = NULL;
        if (++t->gen[slot] == 0) t->gen[slot] = 1;
        t->free_slots[t->n_free++] = (uint32_t)slot;
    }
    pthread_rwlock_unlock(&t->lock);
    return o;
}

/* ---- buffers ---- */

int vk_buf_create(vk_dev *d, uint64_t bytes, uint32_t type, int map, VkBufferUsageFlags usage, vk_buf *out) {
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = (bytes + 15) & ~(uint64_t)15,
                              .usage = usage, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = d->fn.vkCreateBuffer(d->dev, &bci, NULL, &out->buf);
    if (r != VK_SUCCESS) {
        out->buf = VK_NULL_HANDLE;
        return vk_fail(d, r, "vkCreateBuffer");
    }
    VkMemoryRequirements req;
    d->fn.vkGetBufferMemoryRequirements(d->dev, out->buf, &req);
    if (!(req.memoryTypeBits & (1u << type))) {
        d->fn.vkDestroyBuffer(d->dev, out->buf, NULL);
        out->buf = VK_NULL_HANDLE;
        return vk_err(STARK_DEV_INTERNAL, "memory type %u cannot hold this buffer (allowed: %#x)", type, req.memoryTypeBits);
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                                .memoryTypeIndex = type};
    r = d->fn.vkAllocateMemory(d->dev, &mai, NULL, &out->mem);
    if (r == VK_SUCCESS) r = d->fn.vkBindBufferMemory(d->dev, out->buf, out->mem, 0);
    if (r == VK_SUCCESS && map) {
        void *p = NULL;
        r = d->fn.vkMapMemory(d->dev, out->mem, 0, VK_WHOLE_SIZE, 0, &p);
        out->map = p;
    }
    if (r != VK_SUCCESS) {
        int st = vk_fail(d, r, "vkAllocateMemory");
        vk_buf_destroy(d, out);
        return st;
    }
    out->size = bytes;
    atomic_store(&out->refs, 1);
    return STARK_DEV_OK;
}

void vk_buf_destroy(vk_dev *d, vk_buf *b) {
    if (b->buf) d->fn.vkDestroyBuffer(d->dev, b->buf, NULL);
    if (b->mem) d->fn.vkFreeMemory(d->dev, b->mem, NULL); /* unmaps */
    b->buf = VK_NULL_HANDLE;
    b->mem = VK_NULL_HANDLE;
    b->map = NULL;
    b->size = 0;
}

void vk_buf_unref(vk_dev *d, vk_buf *b) {
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        vk_buf_destroy(d, b);
        free(b);
    }
}

int vk_view(vk_dev *d, const stark_dev_buf *v, uint64_t bytes, int f32, vk_buf **out, const char *what) {
    vk_buf *b = v->handle ? vk_table_get(&d->bufs, v->handle) : NULL;
    if (!b)
        return vk_err(STARK_DEV_NOT_FOUND, "%s: buffer %#llx (freed, or never allocated)", what,
                      (unsigned long long)v->handle);
    if (f32 && v->offset % 4) {
        vk_buf_unref(d, b);
        return vk_err(STARK_DEV_INVALID, "%s: offset %llu is not a multiple of 4 (f32)", what, (unsigned long long)v->offset);
    }
    if (v->offset > b->size || bytes > b->size - v->offset) {
        uint64_t size = b->size;
        vk_buf_unref(d, b);
        return vk_err(STARK_DEV_INVALID, "%s: bytes [%llu, %llu+%llu) outside the %llu-byte buffer %#llx", what,
                      (unsigned long long)v->offset, (unsigned long long)v->offset, (unsigned long long)bytes,
                      (unsigned long long)size, (unsigned long long)v->handle);
    }
    *out = b;
    return STARK_DEV_OK;
}

static const VkBufferUsageFlags BUF_USAGE =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

int32_t vk_mem_alloc(uint32_t device, uint64_t bytes, uint64_t *out_handle) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (!out_handle) return vk_err(STARK_DEV_INVALID, "mem_alloc: NULL out_handle");
    if (bytes == 0) return vk_err(STARK_DEV_INVALID, "mem_alloc: zero bytes");
    if (bytes > d->max_alloc)
        return vk_err(STARK_DEV_TOO_LARGE, "mem_alloc: %llu bytes is over the device's largest allocation (%llu bytes)",
                      (unsigned long long)bytes, (unsigned long long)d->max_alloc);
    vk_buf *b = malloc(sizeof *b);
    if (!b) return vk_err(STARK_DEV_EXHAUSTED, "mem_alloc: out of host memory");
    st = vk_buf_create(d, bytes, d->mem_type, d->mapped, BUF_USAGE, b);
    if (st == STARK_DEV_EXHAUSTED && d->mem_type_alt != UINT32_MAX) /* the mapped heap is full: plain device memory */
        st = vk_buf_create(d, bytes, d->mem_type_alt, 0, BUF_USAGE, b);
    if (st) {
        free(b);
        return st;
    }
    if (!vk_table_put(&d->bufs, b, out_handle)) {
        vk_buf_destroy(d, b);
        free(b);
        return vk_err(STARK_DEV_EXHAUSTED, "mem_alloc: out of host memory (handle table)");
    }
    return STARK_DEV_OK;
}

int32_t vk_mem_free(uint32_t device, uint64_t handle) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    vk_buf *b = handle ? vk_table_take(&d->bufs, handle) : NULL;
    if (!b) return vk_err(STARK_DEV_NOT_FOUND, "mem_free: buffer %#llx (freed already, or never allocated)",
                          (unsigned long long)handle);
    vk_buf_unref(d, b); /* ops still using it hold references */
    return STARK_DEV_OK;
}

/* ---- copies through the staging buffer (memory that is not mapped) ---- */

static int staged_in(vk_dev *d, vk_buf *dst, uint64_t off, const uint8_t *src, uint64_t bytes) {
    vk_ctx *c;
    int st = vk_ctx_get(d, &c);
    if (st) return st;
    if (!(st = vk_ctx_staging(d, c))) {
        for (uint64_t done = 0; done < bytes && !st; done += VK_STAGING_BYTES) {
            uint64_t n = bytes - done < VK_STAGING_BYTES ? bytes - done : VK_STAGING_BYTES;
            memcpy(c->staging.map, src + done, n);
            if (!(st = vk_rec_begin(d, c)) && !(st = vk_rec_copy(d, c, c->staging.buf, 0, dst->buf, off + done, n)))
                st = vk_rec_submit(d, c);
        }
    }
    vk_ctx_put(d, c);
    return st;
}

static int staged_out(vk_dev *d, uint8_t *dst, vk_buf *src, uint64_t off, uint64_t bytes) {
    vk_ctx *c;
    int st = vk_ctx_get(d, &c);
    if (st) return st;
    if (!(st = vk_ctx_staging(d, c))) {
        for (uint64_t done = 0; done < bytes && !st; done += VK_STAGING_BYTES) {
            uint64_t n = bytes - done < VK_STAGING_BYTES ? bytes - done : VK_STAGING_BYTES;
            if (!(st = vk_rec_begin(d, c)) && !(st = vk_rec_copy(d, c, src->buf, off + done, c->staging.buf, 0, n)) &&
                !(st = vk_rec_submit(d, c)))
                memcpy(dst + done, c->staging.map, n);
        }
    }
    vk_ctx_put(d, c);
    return st;
}

/* A device-to-device copy: one vkCmdCopyBuffer, or a bounce through the
 * staging buffer when source and destination overlap in one buffer. */
static int device_copy(vk_dev *d, vk_buf *dst, uint64_t doff, vk_buf *src, uint64_t soff, uint64_t bytes) {
    vk_ctx *c;
    int st = vk_ctx_get(d, &c);
    if (st) return st;
    int overlap = dst == src && doff < soff + bytes && soff < doff + bytes;
    if (!overlap) {
        if (!(st = vk_rec_begin(d, c)) && !(st = vk_rec_copy(d, c, src->buf, soff, dst->buf, doff, bytes)))
            st = vk_rec_submit(d, c);
    } else if (!(st = vk_ctx_staging(d, c))) {
        int backward = doff > soff; /* copy the tail first so no source byte is overwritten before it is read */
        for (uint64_t done = 0; done < bytes && !st; done += VK_STAGING_BYTES) {
            uint64_t n = bytes - done < VK_STAGING_BYTES ? bytes - done : VK_STAGING_BYTES;
            uint64_t at = backward ? bytes - done - n : done;
            if ((st = vk_rec_begin(d, c)) || (st = vk_rec_copy(d, c, src->buf, soff + at, c->staging.buf, 0, n))) break;
            vk_rec_barrier(d, c);
            if (!(st = vk_rec_copy(d, c, c->staging.buf, 0, dst->buf, doff + at, n))) st = vk_rec_submit(d, c);
        }
    }
    if (st && c->recording) vk_rec_abort(d, c);
    vk_ctx_put(d, c);
    return st;
}

int32_t vk_memcpy(const stark_dev_copy *cp) {
    if (!cp || cp->struct_size < sizeof *cp)
        return vk_err(STARK_DEV_INVALID, "memcpy: NULL copy or struct_size %u < %zu", cp ? cp->struct_size : 0, sizeof *cp);
    vk_dev *d;
    int st = vk_get_dev(cp->device, &d);
    if (st) return st;
    if ((st = vk_check_stream(d, cp->stream))) return st;
    vk_buf *src = NULL, *dst = NULL;
    uint64_t n = cp->bytes;
    switch (cp->kind) {
    case STARK_COPY_H2D:
        if (!cp->host_src && n) return vk_err(STARK_DEV_INVALID, "memcpy: NULL host_src");
        if ((st = vk_view(d, &cp->dst, n, 0, &dst, "memcpy (host to device)"))) return st;
        if (n == 0) break;
        if (dst->map) memcpy(dst->map + cp->dst.offset, cp->host_src, n);
        else st = staged_in(d, dst, cp->dst.offset, cp->host_src, n);
        break;
    case STARK_COPY_D2H:
        if (!cp->host_dst && n) return vk_err(STARK_DEV_INVALID, "memcpy: NULL host_dst");
        if ((st = vk_view(d, &cp->src, n, 0, &src, "memcpy (device to host)"))) return st;
        if (n == 0) break;
        if (src->map) memcpy(cp->host_dst, src->map + cp->src.offset, n);
        else st = staged_out(d, cp->host_dst, src, cp->src.offset, n);
        break;
    case STARK_COPY_D2D:
        if ((st = vk_view(d, &cp->src, n, 0, &src, "memcpy (device to device, source)"))) return st;
        if ((st = vk_view(d, &cp->dst, n, 0, &dst, "memcpy (device to device, destination)"))) break;
        if (n == 0) break;
        if (src->map && dst->map) memmove(dst->map + cp->dst.offset, src->map + cp->src.offset, n);
        else st = device_copy(d, dst, cp->dst.offset, src, cp->src.offset, n);
        break;
    default:
        return vk_err(STARK_DEV_INVALID, "memcpy: copy kind %u", cp->kind);
    }
    vk_buf_unref(d, src);
    vk_buf_unref(d, dst);
    return st;
}
