/* ptrmap.h: a small open-addressing hash map from pointers to uintptr_t values.
 *
 * Used by _evalframe.c for the tracked-object set (value ignored) and the
 * callable-flags table. Linear probing, power-of-two capacity, load factor at
 * most 1/2, deletion by backward shift (no tombstones), so a lookup stops at
 * the first empty slot. Keys are raw pointers: the map holds no references.
 * NULL is not a valid key. Not thread-safe on its own: callers hold the GIL.
 */
#ifndef FRAMEAD_PTRMAP_H
#define FRAMEAD_PTRMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const void *key;
    uintptr_t value;
} ptrmap_entry;

typedef struct {
    ptrmap_entry *table; /* NULL while capacity is 0 */
    size_t mask;         /* capacity - 1 */
    size_t size;         /* live entries */
} ptrmap;

#define PTRMAP_MIN_CAPACITY 64

static inline size_t
ptrmap_hash(const void *key)
{
    /* Objects are 16-byte aligned: drop the zero bits, then mix so that
       consecutive allocations spread over the table. */
    uint64_t h = (uint64_t)(uintptr_t)key >> 4;
    h *= 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    return (size_t)h;
}

/* Returns the entry for key, or NULL. */
static inline ptrmap_entry *
ptrmap_find(const ptrmap *m, const void *key)
{
    if (m->size == 0) {
        return NULL;
    }
    size_t mask = m->mask;
    size_t i = ptrmap_hash(key) & mask;
    for (;;) {
        ptrmap_entry *e = &m->table[i];
        if (e->key == key) {
            return e;
        }
        if (e->key == NULL) {
            return NULL;
        }
        i = (i + 1) & mask;
    }
}

static inline int
ptrmap_contains(const ptrmap *m, const void *key)
{
    return ptrmap_find(m, key) != NULL;
}

/* Insert without growing; the table must have a free slot. Returns 1 when the
   key was new, 0 when an existing entry was updated. */
static int
ptrmap__put(ptrmap_entry *table, size_t mask, const void *key, uintptr_t value)
{
    size_t i = ptrmap_hash(key) & mask;
    for (;;) {
        ptrmap_entry *e = &table[i];
        if (e->key == NULL) {
            e->key = key;
            e->value = value;
            return 1;
        }
        if (e->key == key) {
            e->value = value;
            return 0;
        }
        i = (i + 1) & mask;
    }
}

static int
ptrmap__resize(ptrmap *m, size_t capacity)
{
    ptrmap_entry *table = (ptrmap_entry *)calloc(capacity, sizeof(ptrmap_entry));
    if (table == NULL) {
        return -1;
    }
    if (m->table != NULL) {
        for (size_t i = 0; i <= m->mask; i++) {
            if (m->table[i].key != NULL) {
                ptrmap__put(table, capacity - 1, m->table[i].key, m->table[i].value);
            }
        }
        free(m->table);
    }
    m->table = table;
    m->mask = capacity - 1;
    return 0;
}

/* Insert or update. Returns 1 (new key), 0 (updated) or -1 (out of memory). */
static int
ptrmap_set(ptrmap *m, const void *key, uintptr_t value)
{
    if (m->table == NULL) {
        if (ptrmap__resize(m, PTRMAP_MIN_CAPACITY) < 0) {
            return -1;
        }
    }
    else if ((m->size + 1) * 2 > m->mask + 1) {
        if (ptrmap__resize(m, (m->mask + 1) * 2) < 0) {
            return -1;
        }
    }
    int added = ptrmap__put(m->table, m->mask, key, value);
    m->size += (size_t)added;
    return added;
}

/* Remove key. Returns 1 when it was present, 0 otherwise. */
static int
ptrmap_remove(ptrmap *m, const void *key)
{
    if (m->size == 0) {
        return 0;
    }
    size_t mask = m->mask;
    size_t i = ptrmap_hash(key) & mask;
    for (;;) {
        if (m->table[i].key == key) {
            break;
        }
        if (m->table[i].key == NULL) {
            return 0;
        }
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion: move later members of the probe run into the
       hole when their home slot does not lie cyclically in (hole, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        const void *k = m->table[j].key;
        if (k == NULL) {
            break;
        }
        size_t home = ptrmap_hash(k) & mask;
        int stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) {
            continue;
        }
        m->table[i] = m->table[j];
        i = j;
    }
    m->table[i].key = NULL;
    m->table[i].value = 0;
    m->size--;
    return 1;
}

/* Remove every entry; a large table is released, a small one kept. */
static void
ptrmap_clear(ptrmap *m)
{
    if (m->table == NULL) {
        return;
    }
    if (m->mask + 1 > 4096) {
        free(m->table);
        m->table = NULL;
        m->mask = 0;
    }
    else {
        memset(m->table, 0, (m->mask + 1) * sizeof(ptrmap_entry));
    }
    m->size = 0;
}

#endif /* FRAMEAD_PTRMAP_H */
