#include "xml_arena.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The marker in the word before an arena block. glibc keeps the chunk size (below 2^48, plus flag
// bits) there, so a value with the top bits set cannot be one.
#define MARKER 0xA7E4A5B1C0DEF00DULL
// Standard chunks: big enough for a typical page's tree in a few, kept in a small pool so that the
// next parse writes to memory that is already mapped and in cache.
#define CHUNK_SIZE ((size_t)256 * 1024)
#define POOL_MAX 16
// A block larger than this gets a chunk of its own (never pooled).
#define LARGE_BLOCK ((size_t)64 * 1024)

typedef struct chunk {
    struct chunk *next;
    size_t size;  // bytes including this header; CHUNK_SIZE for a pooled one
} chunk;

typedef struct block_header {
    size_t size;      // bytes the caller asked for
    uint64_t marker;  // MARKER
} block_header;

struct agentshop_xml_arena {
    chunk *chunks;
    char *cur;
    char *end;
    size_t used;
    agentshop_xml_arena *previous;  // the arena open before on this thread (nesting)
};

static _Thread_local agentshop_xml_arena *current;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static chunk *pool;
static int pool_count;

static inline size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static inline int is_arena_block(const void *pointer) {
    return ((const uint64_t *)pointer)[-1] == MARKER;
}

static chunk *take_chunk(void) {
    chunk *c = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool != NULL) {
        c = pool;
        pool = c->next;
        pool_count--;
    }
    pthread_mutex_unlock(&pool_lock);
    if (c == NULL) {
        c = malloc(CHUNK_SIZE);
        if (c == NULL) return NULL;
        c->size = CHUNK_SIZE;
    }
    return c;
}

static void *arena_alloc(agentshop_xml_arena *a, size_t size) {
    if (size > SIZE_MAX / 2) return NULL;
    size_t need = sizeof(block_header) + round16(size);
    char *start;
    if (need > LARGE_BLOCK) {
        // A chunk of its own, linked behind the current one so the current one stays in use.
        chunk *c = malloc(sizeof(chunk) + need);
        if (c == NULL) return NULL;
        c->size = sizeof(chunk) + need;
        if (a->chunks != NULL) {
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = NULL;
            a->chunks = c;
        }
        start = (char *)(c + 1);
    } else {
        if (need > (size_t)(a->end - a->cur)) {
            chunk *c = take_chunk();
            if (c == NULL) return NULL;
            c->next = a->chunks;
            a->chunks = c;
            a->cur = (char *)(c + 1);
            a->end = (char *)c + CHUNK_SIZE;
        }
        start = a->cur;
        a->cur += need;
    }
    a->used += need;
    block_header *header = (block_header *)start;
    header->size = size;
    header->marker = MARKER;
    return header + 1;
}

void *agentshop_xml_arena_malloc(size_t size) {
    agentshop_xml_arena *a = current;
    if (a == NULL) return malloc(size);
    return arena_alloc(a, size);
}

void agentshop_xml_arena_free(void *pointer) {
    if (pointer == NULL) return;
    // Arena blocks go with their arena.
    if (is_arena_block(pointer)) return;
    free(pointer);
}

void *agentshop_xml_arena_realloc(void *pointer, size_t size) {
    if (pointer == NULL) return agentshop_xml_arena_malloc(size);
    if (!is_arena_block(pointer)) return realloc(pointer, size);
    block_header *header = (block_header *)pointer - 1;
    size_t old = header->size;
    agentshop_xml_arena *a = current;
    // The last block of the current chunk grows in place (libxml2 doubles its buffers this way).
    if (a != NULL && a->cur == (char *)pointer + round16(old) && size <= SIZE_MAX / 2
        && round16(size) <= (size_t)(a->end - (char *)pointer)) {
        a->used += round16(size) - round16(old);
        a->cur = (char *)pointer + round16(size);
        header->size = size;
        return pointer;
    }
    void *moved = agentshop_xml_arena_malloc(size);
    if (moved == NULL) return NULL;
    memcpy(moved, pointer, old < size ? old : size);
    return moved;
}

char *agentshop_xml_arena_strdup(const char *string) {
    size_t length = strlen(string) + 1;
    char *copy = agentshop_xml_arena_malloc(length);
    if (copy != NULL) memcpy(copy, string, length);
    return copy;
}

agentshop_xml_arena *agentshop_xml_arena_begin(void) {
    agentshop_xml_arena *a = calloc(1, sizeof(agentshop_xml_arena));
    if (a == NULL) return NULL;
    a->previous = current;
    current = a;
    return a;
}

void agentshop_xml_arena_end(agentshop_xml_arena *arena) {
    if (arena != NULL && current == arena) current = arena->previous;
}

void agentshop_xml_arena_release(agentshop_xml_arena *arena) {
    if (arena == NULL) return;
    chunk *c = arena->chunks;
    while (c != NULL) {
        chunk *next = c->next;
        int pooled = 0;
        if (c->size == CHUNK_SIZE) {
            pthread_mutex_lock(&pool_lock);
            if (pool_count < POOL_MAX) {
                c->next = pool;
                pool = c;
                pool_count++;
                pooled = 1;
            }
            pthread_mutex_unlock(&pool_lock);
        }
        if (!pooled) free(c);
        c = next;
    }
    free(arena);
}

size_t agentshop_xml_arena_used(const agentshop_xml_arena *arena) { return arena == NULL ? 0 : arena->used; }
