/*
 * solvers.c
 *	  The table of solvers: what fm_train's solver option names.
 *
 * Each solver lives in its own file and exports one FmSolverOps
 * (trainer.h); the trainer never tests which solver it runs.  A new
 * solver is a new file and a new row here (and an FmSolver value in fm.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fm.h"
#include "trainer.h"

static const FmSolverOps *const solvers[] = {
	&fm_sgd_ops,
	&fm_als_ops,
	&fm_mcmc_ops,
};

#define N_SOLVERS (sizeof(solvers) / sizeof(solvers[0]))

static const FmSolverOps *
Find(FmSolver solver)
{
	for (size_t j = 0; j < N_SOLVERS; j++)
		if (solvers[j]->id == solver)
			return solvers[j];
	return NULL;
}

/* The ops of a solver; SGD's for a value outside the table. */
const FmSolverOps *
FmSolverOpsFor(FmSolver solver)
{
	const FmSolverOps *ops = Find(solver);

	return ops ? ops : &fm_sgd_ops;
}

const char *
FmSolverName(FmSolver solver)
{
	return FmSolverOpsFor(solver)->name;
}

bool
FmSolverFromName(const char *name, FmSolver *solver)
{
	for (size_t j = 0; j < N_SOLVERS; j++)
		if (strcmp(solvers[j]->name, name) == 0)
		{
			*solver = solvers[j]->id;
			return true;
		}
	return false;
}

/* True when the solver is known and trains the task. */
bool
FmSolverSupports(FmSolver solver, FmTask task)
{
	const FmSolverOps *ops = Find(solver);

	return ops != NULL &&
		(ops->caps & (task == FM_TASK_BINARY ? FM_CAP_BINARY : FM_CAP_REGRESSION)) != 0;
}

bool
FmSolverKnown(FmSolver solver)
{
	return Find(solver) != NULL;
}

/* The solvers' names as "a", "b" or "c", for messages. */
const char *
FmSolverList(void)
{
	static char buf[256];
	size_t		len = 0;

	buf[0] = '\0';
	for (size_t j = 0; j < N_SOLVERS && len < sizeof(buf); j++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s\"%s\"",
						j == 0 ? "" : (j + 1 == N_SOLVERS ? " or " : ", "),
						solvers[j]->name);
	return buf;
}
