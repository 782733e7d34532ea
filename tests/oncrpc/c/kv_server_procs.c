/* The procedures of kv.x for the server dispatcher of glibc's rpcgen
 * (rpcgen -N -m: kv_program_1), in a small table, and a main that serves
 * them on 127.0.0.1 over TCP and UDP without rpcbind and prints
 * "TCP_PORT UDP_PORT".  Results live in static storage, as rpcgen's
 * servers have them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <rpc/rpc.h>
#include "kv.h"

#define SLOTS 64

extern void kv_program_1(struct svc_req *, SVCXPRT *);

static char *keys[SLOTS];
static kv_value values[SLOTS];

static int find(const char *key)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		if (keys[i] != NULL && strcmp(keys[i], key) == 0)
			return i;
	return -1;
}

void *kv_null_1_svc(struct svc_req *req)
{
	static char nothing;

	return &nothing;
}

kv_status *kv_put_1_svc(kv_entry entry, struct svc_req *req)
{
	static kv_status status;
	int slot = find(entry.key);

	/* only callers that say who they are may write */
	if (req->rq_cred.oa_flavor != AUTH_SYS) {
		status = KV_READ_ONLY;
		return &status;
	}
	if (slot < 0) {
		for (slot = 0; slot < SLOTS && keys[slot] != NULL; slot++)
			;
		if (slot == SLOTS) {
			status = KV_READ_ONLY;
			return &status;
		}
		keys[slot] = strdup(entry.key);
	} else {
		free(values[slot].kv_value_val);
	}
	/* the arguments are freed after the call: keep copies */
	values[slot].kv_value_len = entry.value.kv_value_len;
	values[slot].kv_value_val = malloc(entry.value.kv_value_len + 1);
	memcpy(values[slot].kv_value_val, entry.value.kv_value_val, entry.value.kv_value_len);
	status = KV_OK;
	return &status;
}

kv_lookup *kv_get_1_svc(kv_key key, struct svc_req *req)
{
	static kv_lookup result;
	int slot = find(key);

	if (slot < 0) {
		result.status = KV_NOT_FOUND;
	} else {
		result.status = KV_OK;
		result.kv_lookup_u.value = values[slot];
	}
	return &result;
}

bool_t *kv_delete_1_svc(kv_key key, struct svc_req *req)
{
	static bool_t deleted;
	int slot = find(key);

	deleted = slot >= 0;
	if (deleted) {
		free(keys[slot]);
		free(values[slot].kv_value_val);
		keys[slot] = NULL;
	}
	return &deleted;
}

kv_keys *kv_keys_1_svc(kv_key prefix, u_int limit, struct svc_req *req)
{
	static kv_keys result;
	static kv_key found[SLOTS];
	int i;

	result.kv_keys_len = 0;
	result.kv_keys_val = found;
	for (i = 0; i < SLOTS && result.kv_keys_len < limit; i++)
		if (keys[i] != NULL && strncmp(keys[i], prefix, strlen(prefix)) == 0)
			found[result.kv_keys_len++] = keys[i];
	return &result;
}

int kv_program_1_freeresult(SVCXPRT *transp, xdrproc_t xdr_result, caddr_t result)
{
	return 1; /* the results point into the table: nothing to free */
}

static int loopback_socket(int type)
{
	struct sockaddr_in address;
	int fd = socket(AF_INET, type, 0);

	memset(&address, 0, sizeof address);
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *) &address, sizeof address) < 0) {
		perror("socket");
		exit(1);
	}
	if (type == SOCK_STREAM && listen(fd, 16) < 0) {
		perror("listen");
		exit(1);
	}
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_in address;
	socklen_t length = sizeof address;

	getsockname(fd, (struct sockaddr *) &address, &length);
	return ntohs(address.sin_port);
}

int main(void)
{
	int tcp_fd = loopback_socket(SOCK_STREAM);
	int udp_fd = loopback_socket(SOCK_DGRAM);
	SVCXPRT *tcp = svctcp_create(tcp_fd, 0, 0);
	SVCXPRT *udp = svcudp_create(udp_fd);

	/* protocol 0: serve, but do not register with rpcbind */
	if (tcp == NULL || udp == NULL || !svc_register(tcp, KV_PROGRAM, KV_V1, kv_program_1, 0) ||
	    !svc_register(udp, KV_PROGRAM, KV_V1, kv_program_1, 0)) {
		fprintf(stderr, "cannot serve KV_PROGRAM\n");
		return 1;
	}
	printf("%d %d\n", port_of(tcp_fd), port_of(udp_fd));
	fflush(stdout);
	svc_run();
	return 1;
}
