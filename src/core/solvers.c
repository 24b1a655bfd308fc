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
	&fm_ials_ops,				/* "als" for the implicit task, ids only */
	&fm_icd_ops,				/* "als" for the implicit task, attributes */
	&fm_item_cosine_ops,
};

#define N_SOLVERS (sizeof(solvers) / sizeof(solvers[0]))

static unsigned
TaskCap(FmTask task)
{
	return task == FM_TASK_BINARY ? FM_CAP_BINARY :
		(task == FM_TASK_IMPLICIT ? FM_CAP_IMPLICIT : FM_CAP_REGRESSION);
}

/*
 * The row of a solver for a task: a solver name may have one row per
 * kind of task and data (ALS fits ratings in cd.c, choices of ids in
 * ials.c, choices with attributes in icd.c); with no row for the task,
 * the solver's first row.
 */
static const FmSolverOps *
Find(FmSolver solver, FmTask task, bool features)
{
	const FmSolverOps *first = NULL;

	for (size_t j = 0; j < N_SOLVERS; j++)
		if (solvers[j]->id == solver)
		{
			if ((solvers[j]->caps & TaskCap(task)) &&
				!(features && (solvers[j]->caps & FM_CAP_IDS_ONLY)))
				return solvers[j];
			if (first == NULL)
				first = solvers[j];
		}
	return first;
}

/*
 * The ops of a solver for a task and data with or without attributes or
 * context; SGD's for a value outside the table.
 */
const FmSolverOps *
FmSolverOpsFor(FmSolver solver, FmTask task, bool features)
{
	const FmSolverOps *ops = Find(solver, task, features);

	return ops ? ops : &fm_sgd_ops;
}

/* What one of the solver's passes is called: "epoch", "iteration", "pass". */
const char *
FmSolverUnit(FmSolver solver, FmTask task, bool features)
{
	return FmSolverOpsFor(solver, task, features)->unit;
}

const char *
FmSolverName(FmSolver solver)
{
	return FmSolverOpsFor(solver, FM_TASK_REGRESSION, false)->name;
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
	const FmSolverOps *ops = Find(solver, task, false);

	return ops != NULL && (ops->caps & TaskCap(task)) != 0;
}

bool
FmSolverKnown(FmSolver solver)
{
	return Find(solver, FM_TASK_REGRESSION, false) != NULL;
}

/* The solvers' names as "a", "b" or "c", for messages. */
const char *
FmSolverList(void)
{
	static char buf[256];
	size_t		len = 0;

	const char *names[N_SOLVERS];
	size_t		n = 0;

	/* each name once: a solver may have a row per kind of task */
	for (size_t j = 0; j < N_SOLVERS; j++)
	{
		bool		dup = false;

		for (size_t i = 0; i < n; i++)
			dup |= strcmp(names[i], solvers[j]->name) == 0;
		if (!dup)
			names[n++] = solvers[j]->name;
	}
	buf[0] = '\0';
	for (size_t j = 0; j < n && len < sizeof(buf); j++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s\"%s\"",
						j == 0 ? "" : (j + 1 == n ? " or " : ", "), names[j]);
	return buf;
}
