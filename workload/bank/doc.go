// Package bank is the bank workload: transfers of random amounts between random accounts,
// each reading both balances with SELECT ... FOR UPDATE and writing back the new ones in one
// transaction, while a checker sums all balances every second. The total never changes, so a
// lost update, a write skew or a torn read shows up as a wrong sum and stops the run.
package bank
