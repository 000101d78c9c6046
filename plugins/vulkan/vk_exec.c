/*
 * vk_exec.c - layouts, pipelines, submission contexts and recording.
 *
 * Every pipeline layout is one descriptor set of n storage buffers
 * (bindings 0..n-1) plus a push-constant range of VK_PUSH_BYTES (or the
 * device's maximum); layouts and the built-in pipelines (specialised per
 * op / pass mode) are created once, on first use. A submission context owns a command pool with one command
 * buffer, a fence and (without VK_KHR_push_descriptor) a descriptor pool;
 * contexts are reused from a per-device free list, so an op allocates
 * nothing: record, submit under the queue's mutex, wait on the fence.
 */
#include "vk.h"

#include <stdlib.h>
#include <string.h>

#include "elem_spv.h"
#include "matmul_spv.h"
#include "matmul_reg_spv.h"
#include "rows_spv.h"

/* The shader, name and specialisation constants of built-in pipeline which. */
static void builtin_of(const vk_dev *d, int which, const uint32_t **code, size_t *size, const char **name,
                       uint32_t spec[2], uint32_t *n_spec) {
    *n_spec = 0;
    switch (which) {
    case PIPE_MATMUL: *code = matmul_spv, *size = sizeof matmul_spv, *name = "matmul"; return;
    case PIPE_MATMUL_REG: *code = matmul_reg_spv, *size = sizeof matmul_reg_spv, *name = "matmul_reg"; return;
    default:
        if (which < PIPE_ELEM) { /* rows.comp: MODE */
            *code = rows_spv, *size = sizeof rows_spv, *name = "rows";
            spec[0] = (uint32_t)(which - PIPE_ROWS), spec[1] = 0, *n_spec = 1;
            return;
        }
        *code = elem_spv, *size = sizeof elem_spv, *name = "elem";
        spec[0] = (uint32_t)(which - PIPE_ELEM) / 2 + 1;                 /* OP */
        spec[1] = (which - PIPE_ELEM) % 2 ? (d->cpu ? 4 : 1) : 0;         /* VEC: vec4s per invocation */
        *n_spec = 2;
    }
}

int vk_layout(vk_dev *d, uint32_t n, VkPipelineLayout *out) {
    if (n > VK_MAX_BINDINGS) return vk_err(STARK_DEV_INVALID, "%u bindings (at most %d)", n, VK_MAX_BINDINGS);
    if (atomic_load_explicit(&d->layout_ready[n], memory_order_acquire)) {
        *out = d->layout[n];
        return STARK_DEV_OK;
    }
    int st = STARK_DEV_OK;
    pthread_mutex_lock(&d->plock);
    if (!atomic_load_explicit(&d->layout_ready[n], memory_order_relaxed)) {
        VkDescriptorSetLayoutBinding b[VK_MAX_BINDINGS];
        for (uint32_t i = 0; i < n; i++)
            b[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                  .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        VkDescriptorSetLayoutCreateInfo dci = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            .flags = d->push_desc ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
            .bindingCount = n, .pBindings = n ? b : NULL};
        VkResult r = d->fn.vkCreateDescriptorSetLayout(d->dev, &dci, NULL, &d->dsl[n]);
        if (r == VK_SUCCESS) {
            VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = d->push_max};
            VkPipelineLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1,
                                              .pSetLayouts = &d->dsl[n], .pushConstantRangeCount = 1,
                                              .pPushConstantRanges = &pr};
            r = d->fn.vkCreatePipelineLayout(d->dev, &lci, NULL, &d->layout[n]);
            if (r != VK_SUCCESS) {
                d->fn.vkDestroyDescriptorSetLayout(d->dev, d->dsl[n], NULL);
                d->dsl[n] = VK_NULL_HANDLE;
                d->layout[n] = VK_NULL_HANDLE;
            }
        } else {
            d->dsl[n] = VK_NULL_HANDLE;
        }
        if (r != VK_SUCCESS) st = vk_fail(d, r, "pipeline layout");
        else atomic_store_explicit(&d->layout_ready[n], 1, memory_order_release);
    }
    if (!st) *out = d->layout[n];
    pthread_mutex_unlock(&d->plock);
    return st;
}

int vk_make_pipeline(vk_dev *d, VkShaderModule mod, const char *entry, uint32_t n_bindings,
                     const VkSpecializationInfo *spec, VkPipeline *out) {
    VkPipelineLayout layout;
    int st = vk_layout(d, n_bindings, &layout);
    if (st) return st;
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod, .pName = entry, .pSpecializationInfo = spec},
        .layout = layout};
    VkResult r = d->fn.vkCreateComputePipelines(d->dev, VK_NULL_HANDLE, 1, &ci, NULL, out);
    if (r != VK_SUCCESS) {
        *out = VK_NULL_HANDLE;
        return vk_fail(d, r, "vkCreateComputePipelines");
    }
    return STARK_DEV_OK;
}

int vk_pipeline(vk_dev *d, int which, VkPipeline *out) {
    if (atomic_load_explicit(&d->builtin_ready[which], memory_order_acquire)) {
        *out = d->builtin[which];
        return STARK_DEV_OK;
    }
    const uint32_t *code;
    size_t size;
    const char *name;
    uint32_t spec[2], n_spec;
    builtin_of(d, which, &code, &size, &name, spec, &n_spec);
    VkSpecializationMapEntry map[2] = {{.constantID = 0, .offset = 0, .size = 4}, {.constantID = 1, .offset = 4, .size = 4}};
    VkSpecializationInfo si = {.mapEntryCount = n_spec, .pMapEntries = map, .dataSize = 4 * n_spec, .pData = spec};
    int st = STARK_DEV_OK;
    pthread_mutex_lock(&d->plock);
    if (!atomic_load_explicit(&d->builtin_ready[which], memory_order_relaxed)) {
        VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = size, .pCode = code};
        VkShaderModule mod;
        VkResult r = d->fn.vkCreateShaderModule(d->dev, &mci, NULL, &mod);
        if (r != VK_SUCCESS) {
            st = vk_fail(d, r, "vkCreateShaderModule (built-in shader)");
        } else {
            pthread_mutex_unlock(&d->plock); /* vk_layout takes plock; pipeline compilation may take a while */
            VkPipeline p;
            st = vk_make_pipeline(d, mod, "main", 3, n_spec ? &si : NULL, &p);
            d->fn.vkDestroyShaderModule(d->dev, mod, NULL);
            pthread_mutex_lock(&d->plock);
            if (!st) {
                if (atomic_load_explicit(&d->builtin_ready[which], memory_order_relaxed)) {
                    d->fn.vkDestroyPipeline(d->dev, p, NULL); /* another thread won the race */
                } else {
                    d->builtin[which] = p;
                    atomic_store_explicit(&d->builtin_ready[which], 1, memory_order_release);
                }
            }
        }
    }
    if (!st) *out = d->builtin[which];
    pthread_mutex_unlock(&d->plock);
    if (st) vk_err(st, "the built-in %s pipeline could not be created", name);
    return st;
}

/* ---- contexts ---- */

void vk_ctx_destroy(vk_dev *d, vk_ctx *c) {
    vk_buf_destroy(d, &c->scratch);
    vk_buf_destroy(d, &c->staging);
    if (c->dpool) d->fn.vkDestroyDescriptorPool(d->dev, c->dpool, NULL);
    if (c->fence) d->fn.vkDestroyFence(d->dev, c->fence, NULL);
    if (c->pool) d->fn.vkDestroyCommandPool(d->dev, c->pool, NULL);
    free(c);
}

static int ctx_new(vk_dev *d, vk_ctx **out) {
    vk_ctx *c = calloc(1, sizeof *c);
    if (!c) return vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT, .queueFamilyIndex = d->qfam};
    VkResult r = d->fn.vkCreateCommandPool(d->dev, &pci, NULL, &c->pool);
    if (r == VK_SUCCESS) {
        VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = c->pool,
                                          .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
        r = d->fn.vkAllocateCommandBuffers(d->dev, &ai, &c->cb);
    } else {
        c->pool = VK_NULL_HANDLE;
    }
    if (r == VK_SUCCESS) {
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        r = d->fn.vkCreateFence(d->dev, &fci, NULL, &c->fence);
        if (r != VK_SUCCESS) c->fence = VK_NULL_HANDLE;
    }
    if (r == VK_SUCCESS && !d->push_desc) {
        VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = VK_DSET_POOL * 8};
        VkDescriptorPoolCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                          .maxSets = VK_DSET_POOL, .poolSizeCount = 1, .pPoolSizes = &ps};
        r = d->fn.vkCreateDescriptorPool(d->dev, &dci, NULL, &c->dpool);
        if (r != VK_SUCCESS) c->dpool = VK_NULL_HANDLE;
    }
    if (r != VK_SUCCESS) {
        int st = vk_fail(d, r, "submission context");
        vk_ctx_destroy(d, c);
        return st;
    }
    pthread_mutex_lock(&d->clock);
    c->next_all = d->all_ctx;
    d->all_ctx = c;
    pthread_mutex_unlock(&d->clock);
    *out = c;
    return STARK_DEV_OK;
}

int vk_ctx_get(vk_dev *d, vk_ctx **out) {
    pthread_mutex_lock(&d->clock);
    vk_ctx *c = d->free_ctx;
    if (c) d->free_ctx = c->next_free;
    pthread_mutex_unlock(&d->clock);
    if (c) {
        *out = c;
        return STARK_DEV_OK;
    }
    return ctx_new(d, out);
}

void vk_ctx_put(vk_dev *d, vk_ctx *c) {
    if (c->recording) vk_rec_abort(d, c);
    pthread_mutex_lock(&d->clock);
    c->next_free = d->free_ctx;
    d->free_ctx = c;
    pthread_mutex_unlock(&d->clock);
}

int vk_ctx_scratch(vk_dev *d, vk_ctx *c, uint64_t bytes) {
    if (c->scratch.buf && c->scratch.size >= bytes) return STARK_DEV_OK;
    uint64_t size = c->scratch.size * 2;
    if (size < bytes) size = bytes;
    if (size < (64u << 10)) size = 64u << 10;
    if (size > d->max_alloc) size = bytes;
    vk_buf_destroy(d, &c->scratch);
    return vk_buf_create(d, size, d->mem_type, 0, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, &c->scratch);
}

int vk_ctx_staging(vk_dev *d, vk_ctx *c) {
    if (c->staging.buf) return STARK_DEV_OK;
    return vk_buf_create(d, VK_STAGING_BYTES, d->staging_type, 1,
                         VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, &c->staging);
}

/* ---- recording ---- */

int vk_rec_begin(vk_dev *d, vk_ctx *c) {
    VkResult r = d->fn.vkResetCommandPool(d->dev, c->pool, 0);
    if (r == VK_SUCCESS) {
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                       .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        r = d->fn.vkBeginCommandBuffer(c->cb, &bi);
    }
    if (r != VK_SUCCESS) return vk_fail(d, r, "vkBeginCommandBuffer");
    if (c->dpool && c->dsets_used) {
        d->fn.vkResetDescriptorPool(d->dev, c->dpool, 0);
        c->dsets_used = 0;
    }
    c->recording = 1;
    c->dispatches = 0;
    c->last_pipe = VK_NULL_HANDLE;
    return STARK_DEV_OK;
}

void vk_rec_abort(vk_dev *d, vk_ctx *c) {
    d->fn.vkEndCommandBuffer(c->cb);
    c->recording = 0;
}

void vk_rec_barrier(vk_dev *d, vk_ctx *c) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    d->fn.vkCmdPipelineBarrier(c->cb, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
}

int vk_rec_copy(vk_dev *d, vk_ctx *c, VkBuffer src, uint64_t src_off, VkBuffer dst, uint64_t dst_off, uint64_t bytes) {
    VkBufferCopy region = {.srcOffset = src_off, .dstOffset = dst_off, .size = bytes};
    d->fn.vkCmdCopyBuffer(c->cb, src, dst, 1, &region);
    return STARK_DEV_OK;
}

int vk_rec_submit(vk_dev *d, vk_ctx *c) {
    /* Make shader and transfer writes visible to the host once the fence signals. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT};
    d->fn.vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                               VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    c->recording = 0;
    VkResult r = d->fn.vkEndCommandBuffer(c->cb);
    if (r != VK_SUCCESS) return vk_fail(d, r, "vkEndCommandBuffer");
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &c->cb};
    pthread_mutex_lock(&d->qlock);
    r = d->fn.vkQueueSubmit(d->queue, 1, &si, c->fence);
    pthread_mutex_unlock(&d->qlock);
    if (r != VK_SUCCESS) return vk_fail(d, r, "vkQueueSubmit");
    r = d->fn.vkWaitForFences(d->dev, 1, &c->fence, VK_TRUE, UINT64_MAX);
    VkResult r2 = d->fn.vkResetFences(d->dev, 1, &c->fence);
    if (r != VK_SUCCESS) return vk_fail(d, r, "vkWaitForFences");
    if (r2 != VK_SUCCESS) return vk_fail(d, r2, "vkResetFences");
    return STARK_DEV_OK;
}

/* Submits what was recorded and starts a new command buffer (a context out
 * of descriptor sets); the work stays in order. */
static int rec_flush(vk_dev *d, vk_ctx *c) {
    int st = vk_rec_submit(d, c);
    return st ? st : vk_rec_begin(d, c);
}

int vk_rec_dispatch(vk_dev *d, vk_ctx *c, VkPipeline pipe, uint32_t nb, const vk_bind *binds, const void *push,
                    uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz) {
    VkPipelineLayout layout;
    int st = vk_layout(d, nb, &layout);
    if (st) return st;
    VkDescriptorBufferInfo info[VK_MAX_BINDINGS];
    for (uint32_t i = 0; i < nb; i++)
        info[i] = (VkDescriptorBufferInfo){.buffer = binds[i].buf, .offset = binds[i].offset, .range = binds[i].range};
    VkWriteDescriptorSet w = {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstBinding = 0, .descriptorCount = nb,
                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = info};
    if (!d->push_desc && nb > 0) {
        if (c->dsets_used >= VK_DSET_POOL && (st = rec_flush(d, c))) return st;
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = c->dpool, .descriptorSetCount = 1, .pSetLayouts = &d->dsl[nb]};
        VkDescriptorSet set;
        VkResult r = d->fn.vkAllocateDescriptorSets(d->dev, &ai, &set);
        if (r == VK_ERROR_OUT_OF_POOL_MEMORY || r == VK_ERROR_FRAGMENTED_POOL) {
            if ((st = rec_flush(d, c))) return st;
            r = d->fn.vkAllocateDescriptorSets(d->dev, &ai, &set);
        }
        if (r != VK_SUCCESS) return vk_fail(d, r, "vkAllocateDescriptorSets");
        c->dsets_used++;
        w.dstSet = set;
        d->fn.vkUpdateDescriptorSets(d->dev, 1, &w, 0, NULL);
        if (c->last_pipe != pipe) {
            d->fn.vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
            c->last_pipe = pipe;
        }
        d->fn.vkCmdBindDescriptorSets(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
    } else {
        if (c->last_pipe != pipe) {
            d->fn.vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
            c->last_pipe = pipe;
        }
        if (nb > 0) d->fn.vkCmdPushDescriptorSetKHR(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &w);
    }
    if (push_size > 0) {
        uint32_t words[VK_PUSH_BYTES / 4] = {0};
        uint32_t size = (push_size + 3) & ~3u;
        memcpy(words, push, push_size);
        d->fn.vkCmdPushConstants(c->cb, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, size, words);
    }
    d->fn.vkCmdDispatch(c->cb, gx, gy, gz);
    c->dispatches++;
    return STARK_DEV_OK;
}

void vk_bind_at(const vk_dev *d, const vk_buf *b, uint64_t off, uint64_t bytes, vk_bind *out, uint32_t *elem_off) {
    uint64_t aligned = off & ~(d->bind_align - 1);
    out->buf = b->buf;
    out->offset = aligned;
    out->range = off - aligned + bytes;
    if (elem_off) *elem_off = (uint32_t)((off - aligned) / 4);
}
