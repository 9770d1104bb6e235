#ifndef AGENTSHOP_XML_ARENA_H
#define AGENTSHOP_XML_ARENA_H
// A bump allocator for libxml2's parse of one document (installed with xmlMemSetup by the HTML
// module). While a thread has an arena open, libxml2's allocations on that thread come from it and
// its frees cost nothing; the whole tree is given back at once when the document goes, instead of
// one free() per node. Other threads, and this thread outside a parse, get glibc's malloc as before.
//
// Telling the two kinds of block apart needs no table: an arena block carries a marker in the 8
// bytes before it, where a glibc block carries its chunk's size field, which never equals the
// marker. So blocks libxml2 allocated before the hooks were installed are freed correctly too.
#include <stddef.h>

typedef struct agentshop_xml_arena agentshop_xml_arena;

/// The hooks for xmlMemSetup (free, malloc, realloc, strdup; malloc also serves xmlMallocAtomic).
void agentshop_xml_arena_free(void *pointer);
void *agentshop_xml_arena_malloc(size_t size);
void *agentshop_xml_arena_realloc(void *pointer, size_t size);
char *agentshop_xml_arena_strdup(const char *string);

/// Opens an arena on the calling thread: libxml2's allocations on this thread go to it until
/// `agentshop_xml_arena_end`. NULL when no memory is left (the parse then uses malloc).
agentshop_xml_arena *agentshop_xml_arena_begin(void);
/// Stops allocating from `arena` on the calling thread (the one `begin` was called on).
void agentshop_xml_arena_end(agentshop_xml_arena *arena);
/// Gives back everything allocated in `arena`; from any thread, after `end`.
void agentshop_xml_arena_release(agentshop_xml_arena *arena);
/// Bytes handed out by `arena`, headers and abandoned blocks included.
size_t agentshop_xml_arena_used(const agentshop_xml_arena *arena);
#endif
