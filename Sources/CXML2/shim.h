#ifndef AGENTSHOP_CXML2_SHIM_H
#define AGENTSHOP_CXML2_SHIM_H
// Debian's libxml2 is built with ICU; its ICU types clash with Foundation's on clean builds
// ('UErrorCode' has different definitions in different modules). Read the version header,
// switch ICU off, then include the rest.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/uri.h>
#include <libxml/encoding.h>
#include <libxml/xmlreader.h>

// xmlFree is a global function pointer that Swift 6 rejects as shared mutable state.
static inline void agentshop_xmlFree(void *p) { xmlFree(p); }

// libxml2 prints parse and XPath errors to stderr unless a handler is installed, and the handlers
// are per thread. The generic handler is variadic, which Swift cannot implement, so both live here.
static void agentshop_xml_ignore_generic(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }
static void agentshop_xml_ignore_structured(void *ctx, xmlErrorPtr error) { (void)ctx; (void)error; }
/// Silences libxml2's error output on the calling thread; errors are still kept in xmlGetLastError().
static inline void agentshop_xml_silence(void) {
    xmlSetGenericErrorFunc(NULL, agentshop_xml_ignore_generic);
    xmlSetStructuredErrorFunc(NULL, agentshop_xml_ignore_structured);
}

// htmlReadMemory, telling whether libxml2 halted before the end of the input: some errors stop
// it even in recovery mode (nesting deeper than its limit, out of memory), and the document
// then silently holds only what came before. Recoverable markup errors leave disableSAX at 0.
static inline htmlDocPtr agentshop_html_read(const char *buffer, int size, const char *url, const char *encoding,
                                             int options, int *halted) {
    *halted = 0;
    htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
    if (ctxt == NULL) return NULL;
    htmlDocPtr doc = htmlCtxtReadMemory(ctxt, buffer, size, url, encoding, options);
    *halted = ctxt->disableSAX != 0;
    htmlFreeParserCtxt(ctxt);
    return doc;
}

// xmlParserVersion is a macro over a per-thread accessor in threaded builds.
static inline const char *agentshop_xml_version(void) { return xmlParserVersion; }
#endif
