/*
 * vk_module.c - SPIR-V modules: module_load / module_unload / module_launch.
 *
 * A module is checked when loaded (SPIR-V magic, well-formed instruction
 * stream, at least one GLCompute entry point, storage bindings in set 0)
 * so that a launch never hands the driver a pipeline it would reject or a
 * layout missing a binding the shader declares. Launch: bindings are the
 * storage buffers 0..n-1 of set 0 (each bound from its view's offset,
 * which must be a multiple of minStorageBufferOffsetAlignment, to the end
 * of its buffer or the binding range), push constants as given, grid =
 * workgroup counts (the module fixes the workgroup size). A pipeline is
 * created per (entry point, binding count) on first launch and cached.
 */
#include "vk.h"

#include <stdlib.h>
#include <string.h>

#define SPV_MAGIC 0x07230203u
#define SPV_OP_ENTRY_POINT 15
#define SPV_OP_DECORATE 71
#define SPV_OP_FUNCTION 54
#define SPV_OP_FUNCTION_END 56
#define SPV_EXEC_GLCOMPUTE 5
#define SPV_DEC_BINDING 33
#define SPV_DEC_DESCRIPTOR_SET 34

static uint64_t min_range(uint64_t a, uint64_t b) { return a < b ? a : b; }

void vk_module_destroy(vk_dev *d, vk_module *m) {
    for (vk_pipe_entry *e = m->pipes, *next; e; e = next) {
        next = e->next;
        d->fn.vkDestroyPipeline(d->dev, e->pipe, NULL);
        free(e->name);
        free(e);
    }
    if (m->mod) d->fn.vkDestroyShaderModule(d->dev, m->mod, NULL);
    for (uint32_t i = 0; i < m->n_entries; i++) free(m->entries[i]);
    free(m->entries);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void vk_module_unref(vk_dev *d, vk_module *m) {
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) vk_module_destroy(d, m);
}

/* Reads the entry points and bindings of a SPIR-V module into m. */
static int parse_spirv(const uint32_t *w, size_t n, vk_module *m) {
    if (n < 5 || w[0] != SPV_MAGIC)
        return vk_err(STARK_DEV_INVALID, "module_load: not SPIR-V (magic %#x, want %#x, little-endian words)", n ? w[0] : 0,
                      SPV_MAGIC);
    uint32_t max_binding = 0, any = 0, last = 0;
    int64_t open_functions = 0;
    for (size_t i = 5; i < n;) {
        uint32_t op = w[i] & 0xffff, wc = w[i] >> 16;
        if (wc == 0 || wc > n - i) return vk_err(STARK_DEV_INVALID, "module_load: malformed SPIR-V at word %zu", i);
        last = op;
        if (op == SPV_OP_FUNCTION) open_functions++;
        if (op == SPV_OP_FUNCTION_END && --open_functions < 0)
            return vk_err(STARK_DEV_INVALID, "module_load: malformed SPIR-V (OpFunctionEnd without OpFunction)");
        if (op == SPV_OP_ENTRY_POINT && wc >= 4 && w[i + 1] == SPV_EXEC_GLCOMPUTE) {
            const char *name = (const char *)&w[i + 3];
            size_t max = 4 * (size_t)(wc - 3);
            size_t len = strnlen(name, max);
            if (len == max) return vk_err(STARK_DEV_INVALID, "module_load: malformed entry point name");
            char **e = realloc(m->entries, (m->n_entries + 1) * sizeof *e);
            if (!e) return vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
            m->entries = e;
            if (!(e[m->n_entries] = strndup(name, len))) return vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
            m->n_entries++;
        } else if (op == SPV_OP_DECORATE && wc >= 4) {
            if (w[i + 2] == SPV_DEC_DESCRIPTOR_SET && w[i + 3] != 0)
                return vk_err(STARK_DEV_INVALID, "module_load: descriptor set %u: bindings must be in set 0", w[i + 3]);
            if (w[i + 2] == SPV_DEC_BINDING) {
                any = 1;
                if (w[i + 3] > max_binding) max_binding = w[i + 3];
            }
        }
        i += wc;
    }
    if (open_functions != 0 || last != SPV_OP_FUNCTION_END)
        return vk_err(STARK_DEV_INVALID, "module_load: truncated SPIR-V (the module does not end with a whole function)");
    if (m->n_entries == 0) return vk_err(STARK_DEV_INVALID, "module_load: no GLCompute entry point in the module");
    if (any && max_binding >= VK_MAX_BINDINGS)
        return vk_err(STARK_DEV_INVALID, "module_load: binding %u (at most %d bindings)", max_binding, VK_MAX_BINDINGS);
    m->min_bindings = any ? max_binding + 1 : 0;
    return STARK_DEV_OK;
}

int32_t vk_module_load(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out_module) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (!out_module) return vk_err(STARK_DEV_INVALID, "module_load: NULL out_module");
    if (format != STARK_MOD_SPIRV)
        return vk_err(STARK_DEV_UNSUPPORTED, "module format %u (the vulkan backend loads SPIR-V, format %d)", format,
                      STARK_MOD_SPIRV);
    if (!bytes || len == 0 || len % 4 || len > (1ull << 31))
        return vk_err(STARK_DEV_INVALID, "module_load: %llu bytes is not a SPIR-V module (a whole number of words)",
                      (unsigned long long)len);
    vk_module *m = calloc(1, sizeof *m);
    if (!m) return vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
    pthread_mutex_init(&m->lock, NULL);
    atomic_store(&m->refs, 1);
    uint32_t *w = malloc(len); /* aligned words, whatever the caller's alignment */
    if (!w) st = vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
    else memcpy(w, bytes, len);
    if (!st) st = parse_spirv(w, len / 4, m);
    if (!st) {
        VkShaderModuleCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = len, .pCode = w};
        VkResult r = d->fn.vkCreateShaderModule(d->dev, &ci, NULL, &m->mod);
        if (r != VK_SUCCESS) {
            m->mod = VK_NULL_HANDLE;
            st = vk_fail(d, r, "vkCreateShaderModule");
        }
    }
    free(w);
    if (!st && !vk_table_put(&d->mods, m, out_module)) st = vk_err(STARK_DEV_EXHAUSTED, "out of host memory (module table)");
    if (st) vk_module_destroy(d, m);
    return st;
}

int32_t vk_module_unload(uint32_t device, uint64_t module) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    vk_module *m = module ? vk_table_take(&d->mods, module) : NULL;
    if (!m) return vk_err(STARK_DEV_NOT_FOUND, "module %#llx (unloaded already, or never loaded)", (unsigned long long)module);
    vk_module_unref(d, m); /* launches in flight hold references */
    return STARK_DEV_OK;
}

/* The pipeline of (entry, n_bindings), created on first use. */
static int module_pipeline(vk_dev *d, vk_module *m, const char *entry, uint32_t nb, VkPipeline *out) {
    int st = STARK_DEV_OK;
    pthread_mutex_lock(&m->lock);
    vk_pipe_entry *e = m->pipes;
    while (e && (e->n_bindings != nb || strcmp(e->name, entry) != 0)) e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->name = strdup(entry))) {
            free(e);
            e = NULL;
            st = vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
        } else if ((st = vk_make_pipeline(d, m->mod, entry, nb, NULL, &e->pipe))) {
            free(e->name);
            free(e);
            e = NULL;
        } else {
            e->n_bindings = nb;
            e->next = m->pipes;
            m->pipes = e;
        }
    }
    if (e) *out = e->pipe;
    pthread_mutex_unlock(&m->lock);
    return st;
}

int32_t vk_module_launch(const stark_dev_launch *l) {
    if (!l || l->struct_size < sizeof *l)
        return vk_err(STARK_DEV_INVALID, "module_launch: NULL launch or struct_size too small");
    vk_dev *d;
    int st = vk_get_dev(l->device, &d);
    if (st) return st;
    if ((st = vk_check_stream(d, l->stream))) return st;
    if (!l->function || !l->function[0]) return vk_err(STARK_DEV_INVALID, "module_launch: no function");
    if (l->n_bindings > VK_MAX_BINDINGS || (l->n_bindings && !l->bindings))
        return vk_err(STARK_DEV_INVALID, "module_launch: %u bindings (at most %d)", l->n_bindings, VK_MAX_BINDINGS);
    if (l->push_size > d->push_max || (l->push_size && !l->push))
        return vk_err(STARK_DEV_INVALID, "module_launch: %u bytes of push constants (at most %u)", l->push_size, d->push_max);
    for (int i = 0; i < 3; i++)
        if (l->grid[i] > d->max_groups[i])
            return vk_err(STARK_DEV_INVALID, "module_launch: grid[%d] = %u is over the device's %u workgroups", i, l->grid[i],
                          d->max_groups[i]);
    vk_module *m = l->module ? vk_table_get(&d->mods, l->module) : NULL;
    if (!m) return vk_err(STARK_DEV_NOT_FOUND, "module %#llx (unloaded, or never loaded)", (unsigned long long)l->module);
    uint32_t i = 0;
    while (i < m->n_entries && strcmp(m->entries[i], l->function) != 0) i++;
    if (i == m->n_entries) st = vk_err(STARK_DEV_NOT_FOUND, "module_launch: no compute entry point %.64s in the module", l->function);
    else if (l->n_bindings < m->min_bindings)
        st = vk_err(STARK_DEV_INVALID, "module_launch: the module declares %u bindings, the launch gives %u", m->min_bindings,
                    l->n_bindings);
    vk_buf *bufs[VK_MAX_BINDINGS] = {0};
    vk_bind binds[VK_MAX_BINDINGS];
    for (i = 0; i < l->n_bindings && !st; i++) {
        const stark_dev_buf *v = &l->bindings[i];
        if ((st = vk_view(d, v, 0, 0, &bufs[i], "module_launch binding"))) break;
        if (v->offset % d->align || v->offset >= bufs[i]->size) {
            st = vk_err(STARK_DEV_INVALID, "module_launch: binding %u at offset %llu (a multiple of %llu inside the buffer, please)",
                        i, (unsigned long long)v->offset, (unsigned long long)d->align);
            break;
        }
        binds[i].buf = bufs[i]->buf;
        binds[i].offset = v->offset;
        binds[i].range = min_range(bufs[i]->size - v->offset, d->max_range);
    }
    VkPipeline pipe = VK_NULL_HANDLE;
    if (!st) st = module_pipeline(d, m, l->function, l->n_bindings, &pipe);
    if (!st && l->grid[0] && l->grid[1] && l->grid[2]) {
        vk_ctx *c;
        if (!(st = vk_ctx_get(d, &c))) {
            if (!(st = vk_rec_begin(d, c)) &&
                !(st = vk_rec_dispatch(d, c, pipe, l->n_bindings, binds, l->push, l->push_size, l->grid[0], l->grid[1], l->grid[2])))
                st = vk_rec_submit(d, c);
            vk_ctx_put(d, c);
        }
    }
    for (i = 0; i < l->n_bindings; i++) vk_buf_unref(d, bufs[i]);
    vk_module_unref(d, m);
    return st;
}
