/*
 * CANN's `<acl/acl.h>` for programs built against the AscendCL double: what they include
 * is what the double implements (../acl_api.h), and they link it as `-lascendcl`.
 */
#ifndef DEVICE_DOUBLE_ACL_ACL_H
#define DEVICE_DOUBLE_ACL_ACL_H

#include "../acl_api.h"

#endif
