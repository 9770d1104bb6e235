#ifndef AGENTSHOP_CXML2_SHIM_H
#define AGENTSHOP_CXML2_SHIM_H
// The headers come through include/libxml, a link to Debian's /usr/include/libxml2/libxml (libxml2-dev):
// SwiftPM gives every module that imports this one the include folder, and libxml2's headers find each
// other as <libxml/…>. (A pkg-config system library would also link libxml2, which is what we avoid.)
//
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

// libxml2 is not linked: loader.c opens libxml2.so.2 (and with it system ICU and liblzma) on the first
// call of a function the Swift code calls (it defines them, hidden, with libxml2's names and prototypes)
// and calls through the addresses it resolved, so a command that parses nothing does not map and relocate
// them (bench/FLOOR_RESULTS.md). When libxml2 could not be loaded they return error values (NULL, -1, 0);
// the Swift side reports agentshop_xml_load_error()'s sentence.

// NULL when libxml2 is loaded (loading it on the first call); otherwise why not, naming the library,
// its soname and the Debian package to install.
const char *agentshop_xml_load_error(void);

// xmlFree is a global function pointer (xmlMemSetup changes it) that Swift 6 rejects as shared mutable
// state; this calls the one libxml2 holds now.
void agentshop_xmlFree(void *p);

// The version string of the libxml2 running, e.g. "20914" (xmlParserVersion is a macro over a per-thread
// accessor in threaded builds); NULL when it could not be loaded.
const char *agentshop_xml_version(void);

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
#endif
