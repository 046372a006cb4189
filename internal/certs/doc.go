// Package certs makes and loads the certificates of a secure Meridian deployment: a
// certificate authority, node certificates for the hosts and addresses clients dial, and
// client certificates whose common name is a SQL user. They live in one certs directory
// (ca.crt, node.crt and node.key, client.<user>.crt and client.<user>.key); the CA's key may
// live elsewhere. Keys are ECDSA P-256, which every PostgreSQL client's TLS stack accepts.
package certs
