// Package privilege is Meridian's model of who may do what: the privileges a role can hold on
// a table (SELECT, INSERT, UPDATE, DELETE) or a database (CREATE, CONNECT), and the access
// control list each descriptor carries, naming its owner, who holds every privilege, and the
// privileges granted to other roles. The superuser root, which needs none, and the pseudo-role
// public, of which every role is a member, are named here too.
package privilege
