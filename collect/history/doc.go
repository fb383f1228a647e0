// Package history finds steps in main's benchmark history, which no pull
// request's comparison sees: a regression that crept in over several small
// changes, none flagged alone.
//
// Load reads a directory of results.json (the bench-results artifacts of
// main's pushes, which Fetcher downloads with a token), ordered by each
// run's start time. Gating takes one series per gating figure, as
// compare.GatingFigures gathers them per run (each scenario's family by its
// expectation, and the run-level healthy path): the median over the head
// side's arms of each run. Detect finds the change points of a series with
// E-divisive means and a permutation test, in the sliding windows and
// merge step of Hunter / Apache Otava (edivisive.go cites both); Analyze
// names, per step, the first run after it and its commit, the medians
// before and after, and the p-value. A step is reported only when it is
// beyond the figure's floor in compare's policy, so a history is held to
// the same smallest change worth acting on as a pull request. MinHistory
// says how many runs a figure needs before any step can be significant.
// WriteMarkdown and WriteCharts turn a Result into the job summary and one
// PNG per changed figure.
package history
