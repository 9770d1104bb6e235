// libxml2 on first use: the functions the Swift code calls, resolved from libxml2.so.2 with dlopen and
// dlsym the first time any of them is called (the same scheme as CCurl's and CLibPQ's loaders). They keep
// libxml2's own names and prototypes (so the Swift code reads as plain libxml2) but are hidden: they
// resolve the Swift code's calls inside this executable and are never seen by the loaded libxml2.
//
// xmlFree is not a function but libxml2's global function pointer, which xmlMemSetup rewrites (the parse
// arena's hooks, HTML's LibXML.swift): its slot holds the variable's address, read at every call.
#include "shim.h"
#include "lazy_load.h"

#pragma GCC visibility push(hidden)

#define XML_FUNCTIONS(X) \
    X(xmlInitParser) X(xmlMemSetup) X(xmlFree) X(__xmlParserVersion) X(xmlDictCreate) X(xmlDictFree) \
    X(xmlSetGenericErrorFunc) X(xmlSetStructuredErrorFunc) X(xmlResetLastError) X(xmlGetLastError) \
    X(htmlNewParserCtxt) X(htmlCtxtReadMemory) X(htmlFreeParserCtxt) X(xmlFreeDoc) X(xmlDocGetRootElement) \
    X(xmlNodeGetContent) X(xmlGetProp) X(xmlStrlen) X(xmlBufferCreate) X(xmlBufferFree) X(xmlBufferContent) \
    X(htmlNodeDump) X(xmlXPathNewContext) X(xmlXPathContextSetCache) X(xmlXPathFreeContext) X(xmlXPathCompile) \
    X(xmlXPathFreeCompExpr) X(xmlXPathCompiledEval) X(xmlXPathFreeObject) \
    X(xmlReaderForMemory) X(xmlFreeTextReader) X(xmlTextReaderRead) X(xmlTextReaderNodeType) \
    X(xmlTextReaderConstLocalName) X(xmlTextReaderIsEmptyElement) X(xmlTextReaderConstValue)

AGENTSHOP_LAZY_LIBRARY(XML_FUNCTIONS, "libxml2", "libxml2.so.2", "libxml2")

const char *agentshop_xml_load_error(void) { return loaded() ? NULL : load_error; }

void agentshop_xmlFree(void *p) {
    // CALL(xmlFree) is the address of libxml2's variable: the function it holds now.
    if (loaded()) (*CALL(xmlFree))(p);
}
const char *agentshop_xml_version(void) { return loaded() ? *CALL(__xmlParserVersion)() : NULL; }

void xmlInitParser(void) { if (loaded()) CALL(xmlInitParser)(); }
int xmlMemSetup(xmlFreeFunc freeFunc, xmlMallocFunc mallocFunc, xmlReallocFunc reallocFunc, xmlStrdupFunc strdupFunc) {
    return loaded() ? CALL(xmlMemSetup)(freeFunc, mallocFunc, reallocFunc, strdupFunc) : -1;
}
xmlDictPtr xmlDictCreate(void) { return loaded() ? CALL(xmlDictCreate)() : NULL; }
void xmlDictFree(xmlDictPtr dict) { if (loaded()) CALL(xmlDictFree)(dict); }
void xmlSetGenericErrorFunc(void *ctx, xmlGenericErrorFunc handler) {
    if (loaded()) CALL(xmlSetGenericErrorFunc)(ctx, handler);
}
void xmlSetStructuredErrorFunc(void *ctx, xmlStructuredErrorFunc handler) {
    if (loaded()) CALL(xmlSetStructuredErrorFunc)(ctx, handler);
}
void xmlResetLastError(void) { if (loaded()) CALL(xmlResetLastError)(); }
xmlErrorPtr xmlGetLastError(void) { return loaded() ? CALL(xmlGetLastError)() : NULL; }

htmlParserCtxtPtr htmlNewParserCtxt(void) { return loaded() ? CALL(htmlNewParserCtxt)() : NULL; }
htmlDocPtr htmlCtxtReadMemory(htmlParserCtxtPtr ctxt, const char *buffer, int size, const char *URL,
                              const char *encoding, int options) {
    return loaded() ? CALL(htmlCtxtReadMemory)(ctxt, buffer, size, URL, encoding, options) : NULL;
}
void htmlFreeParserCtxt(htmlParserCtxtPtr ctxt) { if (loaded()) CALL(htmlFreeParserCtxt)(ctxt); }
void xmlFreeDoc(xmlDocPtr doc) { if (loaded()) CALL(xmlFreeDoc)(doc); }
xmlNodePtr xmlDocGetRootElement(const xmlDoc *doc) { return loaded() ? CALL(xmlDocGetRootElement)(doc) : NULL; }
xmlChar *xmlNodeGetContent(const xmlNode *node) { return loaded() ? CALL(xmlNodeGetContent)(node) : NULL; }
xmlChar *xmlGetProp(const xmlNode *node, const xmlChar *name) { return loaded() ? CALL(xmlGetProp)(node, name) : NULL; }
int xmlStrlen(const xmlChar *string) { return loaded() ? CALL(xmlStrlen)(string) : 0; }
xmlBufferPtr xmlBufferCreate(void) { return loaded() ? CALL(xmlBufferCreate)() : NULL; }
void xmlBufferFree(xmlBufferPtr buffer) { if (loaded()) CALL(xmlBufferFree)(buffer); }
const xmlChar *xmlBufferContent(const xmlBuffer *buffer) { return loaded() ? CALL(xmlBufferContent)(buffer) : NULL; }
int htmlNodeDump(xmlBufferPtr buffer, xmlDocPtr doc, xmlNodePtr node) {
    return loaded() ? CALL(htmlNodeDump)(buffer, doc, node) : -1;
}

xmlXPathContextPtr xmlXPathNewContext(xmlDocPtr doc) { return loaded() ? CALL(xmlXPathNewContext)(doc) : NULL; }
int xmlXPathContextSetCache(xmlXPathContextPtr ctxt, int active, int value, int options) {
    return loaded() ? CALL(xmlXPathContextSetCache)(ctxt, active, value, options) : -1;
}
void xmlXPathFreeContext(xmlXPathContextPtr ctxt) { if (loaded()) CALL(xmlXPathFreeContext)(ctxt); }
xmlXPathCompExprPtr xmlXPathCompile(const xmlChar *expression) {
    return loaded() ? CALL(xmlXPathCompile)(expression) : NULL;
}
void xmlXPathFreeCompExpr(xmlXPathCompExprPtr comp) { if (loaded()) CALL(xmlXPathFreeCompExpr)(comp); }
xmlXPathObjectPtr xmlXPathCompiledEval(xmlXPathCompExprPtr comp, xmlXPathContextPtr ctx) {
    return loaded() ? CALL(xmlXPathCompiledEval)(comp, ctx) : NULL;
}
void xmlXPathFreeObject(xmlXPathObjectPtr object) { if (loaded()) CALL(xmlXPathFreeObject)(object); }

xmlTextReaderPtr xmlReaderForMemory(const char *buffer, int size, const char *URL, const char *encoding, int options) {
    return loaded() ? CALL(xmlReaderForMemory)(buffer, size, URL, encoding, options) : NULL;
}
void xmlFreeTextReader(xmlTextReaderPtr reader) { if (loaded()) CALL(xmlFreeTextReader)(reader); }
int xmlTextReaderRead(xmlTextReaderPtr reader) { return loaded() ? CALL(xmlTextReaderRead)(reader) : -1; }
int xmlTextReaderNodeType(xmlTextReaderPtr reader) { return loaded() ? CALL(xmlTextReaderNodeType)(reader) : -1; }
const xmlChar *xmlTextReaderConstLocalName(xmlTextReaderPtr reader) {
    return loaded() ? CALL(xmlTextReaderConstLocalName)(reader) : NULL;
}
int xmlTextReaderIsEmptyElement(xmlTextReaderPtr reader) {
    return loaded() ? CALL(xmlTextReaderIsEmptyElement)(reader) : -1;
}
const xmlChar *xmlTextReaderConstValue(xmlTextReaderPtr reader) {
    return loaded() ? CALL(xmlTextReaderConstValue)(reader) : NULL;
}
#pragma GCC visibility pop
