/* Shared inside policy/resolve*.c only. */
#ifndef FSG_POLICY_RESOLVE_INTERNAL_H
#define FSG_POLICY_RESOLVE_INTERNAL_H

#include "policy/resolve.h"

/* Owned string arrays (fsg_strdup'ed items, fsg_reallocarray'ed array). */
enum fsg_err fsg_resolve__strv_add(char ***v, size_t *n, const char *s) FSG_MUST_USE;
bool fsg_resolve__strv_has(char *const *v, size_t n, const char *s);
void fsg_resolve__strv_free(char **v, size_t n);

/* The target's interfaces and addresses (lookup and config). */
enum fsg_err fsg_resolve__enis(struct fsg_aws_client *ec2, const struct fsg_resolve_request *req,
                               struct fsg_resolved_target *t, struct fsg_error *err) FSG_MUST_USE;

#endif
