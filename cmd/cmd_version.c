#include <curl/curl.h>
#include <expat.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cmd/cli.h"
#include "fsg_config.h"
#include "lib/core/crypto.h"

int fsg_cmd_version(struct fsg_cli *cli, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: flowseg version\n\nPrints the version, the build options and the library versions.\n");
        return FSG_EXIT_OK;
    }
    char pcre2_ver[32] = "";
    (void)pcre2_config(PCRE2_CONFIG_VERSION, pcre2_ver);
    printf("flowseg %s\n", FSG_VERSION);
    printf("inflate: %s\n", FSG_HAVE_ISAL ? "ISA-L (zlib fallback)" : "zlib");
    printf("libcurl: %s\n", curl_version_info(CURLVERSION_NOW)->version);
    printf("openssl: %s\n", fsg_crypto_version());
    printf("jansson: %s\n", jansson_version_str());
    printf("zlib: %s\n", zlibVersion());
    printf("expat: %s\n", XML_ExpatVersion());
    printf("pcre2: %s\n", pcre2_ver);
    return FSG_EXIT_OK;
}
