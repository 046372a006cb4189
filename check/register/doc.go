// Package register checks that a history of operations on integer registers,
// one register per key, is linearizable. Clients record each read, write and
// compare-and-set through a [Recorder] while the system under test runs, and
// [Check] hands the history to the porcupine checker, one partition per key.
// Every register starts at 0 unless [CheckOptions.Initial] says otherwise. An
// operation can end in one of three ways: it completed and its result is
// known, it definitely did not take effect (it is dropped), or its outcome is
// ambiguous, as when a node dies before answering. An ambiguous write or
// compare-and-set may take effect at any moment after its call, or never, so
// the checker treats it as returning at the end of time; an ambiguous read
// carries no information and is dropped from the history before checking.
// Checking linearizability is NP-hard, so Check takes a timeout and reports
// [Unknown] when it expires before a verdict is reached.
package register
