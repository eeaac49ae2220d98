/* Helpers shared by lib/aws/ec2.c, lib/aws/ec2_groups.c and lib/aws/ec2_eni.c (not part of the EC2 API). */
#ifndef FSG_LIB_EC2_INTERNAL_H
#define FSG_LIB_EC2_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/aws/aws.h"
#include "lib/aws/aws_xml.h"
#include "lib/aws/ec2.h"

/* A copy of the text at path under n into *ret; NULL when missing or empty. FSG_E_NOMEM. */
enum fsg_err fsg_ec2__dup(const struct fsg_aws_xml_node *n, const char *path, char **ret);
/* An int32 at path; -1 when missing; FSG_E_PARSE when not a number in range. */
enum fsg_err fsg_ec2__i32(const struct fsg_aws_xml_node *n, const char *path, int32_t *ret);
/* A boolean at path; false when missing; FSG_E_PARSE when not true/false. */
enum fsg_err fsg_ec2__bool(const struct fsg_aws_xml_node *n, const char *path, bool *ret);
/* Makes room for one more element (new slots zeroed). */
enum fsg_err fsg_ec2__grow(void **items, size_t *cap, size_t len, size_t elem_size);
/* Appends the non-empty texts of set/item/field to *ret (*ret_n grows). */
enum fsg_err fsg_ec2__strings(const struct fsg_aws_xml_node *set, const char *field, char ***ret,
                              size_t *ret_n);
void fsg_ec2__strings_free(char **s, size_t n);

/* n's tagSet/item/{key,value} (a tag without a key is skipped; an empty value is ""). */
enum fsg_err fsg_ec2__tags(const struct fsg_aws_xml_node *n, struct fsg_ec2_tag **ret,
                           size_t *ret_n);
void fsg_ec2__tags_free(struct fsg_ec2_tag *tags, size_t n);
/* FSG_E_REMOTE when the answer says <return>false</return>. */
enum fsg_err fsg_ec2__check_return(const struct fsg_aws_xml_doc *doc, const char *action,
                                   struct fsg_error *err);

/* Name.1..Name.n = values (each non-empty). */
enum fsg_err fsg_ec2__add_list(struct fsg_aws_params *p, const char *name,
                               const char *const *values, size_t n, struct fsg_error *err);
/* TagSpecification.1.ResourceType = resource_type, TagSpecification.1.Tag.M.Key/Value; nothing
 * when n is 0. */
enum fsg_err fsg_ec2__add_tag_spec(struct fsg_aws_params *p, const char *resource_type,
                                   const struct fsg_ec2_tag_spec *tags, size_t n,
                                   struct fsg_error *err);
/* Filter.N.Name / Filter.N.Value.M. */
enum fsg_err fsg_ec2__add_filters(struct fsg_aws_params *p, const struct fsg_ec2_filter *f,
                                  size_t n, struct fsg_error *err);

/* Parses one <item> of the answer's list. */
typedef enum fsg_err(fsg_ec2__item_fn)(const struct fsg_aws_xml_node *item, void *userdata);
/* Calls action with base (+ MaxResults=1000 when max_results) page after page (NextToken)
 * and hands every root/set_name/item to on_item. */
enum fsg_err fsg_ec2__describe_all(struct fsg_aws_client *ec2, const char *action,
                                   const struct fsg_aws_params *base, bool max_results,
                                   const char *set_name, fsg_ec2__item_fn *on_item,
                                   void *userdata, struct fsg_error *err);

#endif
