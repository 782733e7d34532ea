/* A C client of kv.x, over the client stubs of glibc's rpcgen (rpcgen -N -l):
 * ./kv_client HOST tcp|udp calls every procedure of KV_V1 and prints what
 * came back, one line per call; the port comes from HOST's rpcbind
 * (clnt_create).  The test compares the lines with what its server did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rpc/rpc.h>
#include "kv.h"

static void print_lookup(const char *what, kv_lookup *result, CLIENT *clnt)
{
	if (result == NULL) {
		printf("%s: %s\n", what, clnt_sperror(clnt, "kv_get"));
		return;
	}
	if (result->status == KV_OK)
		printf("%s: ok %.*s\n", what, (int) result->kv_lookup_u.value.kv_value_len,
		       result->kv_lookup_u.value.kv_value_val);
	else
		printf("%s: status %d\n", what, (int) result->status);
}

int main(int argc, char **argv)
{
	CLIENT *clnt;
	kv_entry entry;
	kv_status *status;
	kv_keys *keys;
	bool_t *deleted;
	u_int i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST tcp|udp\n", argv[0]);
		return 2;
	}
	clnt = clnt_create(argv[1], KV_PROGRAM, KV_V1, argv[2]);
	if (clnt == NULL) {
		clnt_pcreateerror(argv[1]);
		return 1;
	}
	clnt->cl_auth = authunix_create_default(); /* AUTH_SYS */

	if (kv_null_1(clnt) == NULL) {
		clnt_perror(clnt, "kv_null");
		return 1;
	}
	printf("null: ok\n");

	entry.key = "alpha";
	entry.value.kv_value_len = 5;
	entry.value.kv_value_val = "first";
	status = kv_put_1(entry, clnt);
	printf("put: %d\n", status ? (int) *status : -1);

	print_lookup("get alpha", kv_get_1("alpha", clnt), clnt);
	print_lookup("get missing", kv_get_1("missing", clnt), clnt);

	keys = kv_keys_1("al", 10, clnt); /* two arguments: newstyle */
	if (keys == NULL) {
		clnt_perror(clnt, "kv_keys");
		return 1;
	}
	printf("keys:");
	for (i = 0; i < keys->kv_keys_len; i++)
		printf(" %s", keys->kv_keys_val[i]);
	printf("\n");

	deleted = kv_delete_1("alpha", clnt); /* the server leaves it out */
	if (deleted == NULL)
		printf("delete: %s\n", clnt_sperror(clnt, "kv_delete"));
	else
		printf("delete: %d\n", (int) *deleted);

	auth_destroy(clnt->cl_auth);
	clnt_destroy(clnt);
	return 0;
}
