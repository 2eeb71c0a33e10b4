/*
 * `coffer operator ...`: deployment chores that need no running node.
 *
 *   coffer operator tls-init --dir D --regions R[,R...] --nodes N [--force]
 *
 * creates the deployment CA (D/ca.pem, D/ca.key; ECDSA P-256, 10 years) and
 * for every region R and node i in 1..N a certificate and key
 * (D/R/n<i>/cert.pem, key.pem) issued by it, naming the member with the SAN
 * URI coffer://R/i plus 127.0.0.1, ::1 and localhost, for both TLS server
 * and client authentication. Keys are 0600, directories 0700. Existing keys
 * are kept (an existing CA issues the missing node certificates) unless
 * --force replaces everything. Prints what it created or kept.
 */
#ifndef COFFER_CLI_OPERATOR_H
#define COFFER_CLI_OPERATOR_H

/* argv[0] is "operator". Returns the process exit code. */
int cmd_operator(int argc, char **argv);

#endif
