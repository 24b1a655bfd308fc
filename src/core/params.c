/*
 * params.c
 *	  Hyperparameter defaults and validation.
 *
 * The defaults converge on MovieLens-shaped data without tuning (see the
 * README's Performance section); the bounds reject values that cannot
 * train (negative rates) or that would take absurd time or memory.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fm.h"

void
FmParamsDefault(FmParams p)
{
	memset(p, 0, sizeof(*p));
	p->task = FM_TASK_REGRESSION;
	p->factors = 64;
	p->epochs = 50;
	p->batch_size = 1000;
	p->learning_rate = 0.02;
	p->reg_bias = 0.0;
	p->reg_linear = 0.03;
	p->reg_factors = 0.04;
	p->init_stdev = 0.01;
	p->threshold = 4.0;
	p->validation = 0.0;
	p->patience = 5;
	p->seed = 42;
	p->threads = 1;
	p->store_seen = true;
	p->solver = FM_SOLVER_SGD;
	p->burn_in = 50;
}

/*
 * Switches to another solver, giving the options the user did not set
 * (bits of `set`) that solver's defaults: ALS takes regularization as the
 * weight of squared norms in a least-squares objective (much larger than
 * SGD's per-update decay) and converges in fewer iterations; MCMC learns
 * its regularization from hyperpriors and wants a wider initialization
 * and enough samples after burn-in.
 */
void
FmParamsSolverDefaults(FmParams p, FmSolver solver, unsigned set)
{
	p->solver = solver;
	if (solver == FM_SOLVER_ALS)
	{
		if (!(set & FM_SET_EPOCHS))
			p->epochs = 15;
		if (!(set & FM_SET_REG_LINEAR))
			p->reg_linear = 10.0;
		if (!(set & FM_SET_REG_FACTORS))
			p->reg_factors = 10.0;
		if (!(set & FM_SET_INIT_STDEV))
			p->init_stdev = 0.1;
	}
	else if (solver == FM_SOLVER_MCMC)
	{
		/* the binary task's latent targets mix more slowly */
		if (!(set & FM_SET_EPOCHS))
			p->epochs = p->task == FM_TASK_BINARY ? 200 : 100;
		if (!(set & FM_SET_INIT_STDEV))
			p->init_stdev = 0.1;
		if (!(set & FM_SET_BURN_IN))
			p->burn_in = p->epochs / 4;
	}
}

const char *
FmSolverName(FmSolver solver)
{
	switch (solver)
	{
		case FM_SOLVER_ALS:
			return "als";
		case FM_SOLVER_MCMC:
			return "mcmc";
		case FM_SOLVER_SGD:
			break;
	}
	return "sgd";
}

bool
FmSolverFromName(const char *name, FmSolver *solver)
{
	if (strcmp(name, "sgd") == 0)
		*solver = FM_SOLVER_SGD;
	else if (strcmp(name, "als") == 0)
		*solver = FM_SOLVER_ALS;
	else if (strcmp(name, "mcmc") == 0)
		*solver = FM_SOLVER_MCMC;
	else
		return false;
	return true;
}

const char *
FmTaskName(FmTask task)
{
	return task == FM_TASK_BINARY ? "binary" : "regression";
}

bool
FmTaskFromName(const char *name, FmTask *task)
{
	if (strcmp(name, "regression") == 0 || strcmp(name, "regressor") == 0)
		*task = FM_TASK_REGRESSION;
	else if (strcmp(name, "binary") == 0 ||
			 strcmp(name, "binary_classifier") == 0)
		*task = FM_TASK_BINARY;
	else
		return false;
	return true;
}

static FmStatus
RangeError(char *err, size_t errlen, const char *name, const char *range)
{
	snprintf(err, errlen, "\"%s\" must be %s", name, range);
	return FM_ERR_PARAM;
}

static bool
RealIn(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

FmStatus
FmParamsCheck(const FmParamsData *p, char *err, size_t errlen)
{
	if (p->task != FM_TASK_REGRESSION && p->task != FM_TASK_BINARY)
		return RangeError(err, errlen, "task", "\"regression\" or \"binary\"");
	if (p->factors < 1 || p->factors > FM_MAX_FACTORS)
		return RangeError(err, errlen, "factors", "between 1 and 1024");
	if (p->epochs < 1 || p->epochs > FM_MAX_EPOCHS)
		return RangeError(err, errlen, "epochs", "between 1 and 100000");
	if (p->batch_size < 1 || p->batch_size > FM_MAX_BATCH)
		return RangeError(err, errlen, "batch_size", "between 1 and 1000000");
	if (!RealIn(p->learning_rate, 1e-9, 10.0))
		return RangeError(err, errlen, "learning_rate",
						  "a finite number between 1e-9 and 10");
	if (!RealIn(p->reg_bias, 0.0, 1e6))
		return RangeError(err, errlen, "reg_bias", "between 0 and 1e6");
	if (!RealIn(p->reg_linear, 0.0, 1e6))
		return RangeError(err, errlen, "reg_linear", "between 0 and 1e6");
	if (!RealIn(p->reg_factors, 0.0, 1e6))
		return RangeError(err, errlen, "reg_factors", "between 0 and 1e6");
	if (!RealIn(p->init_stdev, 0.0, 10.0))
		return RangeError(err, errlen, "init_stdev", "between 0 and 10");
	if (!isfinite(p->threshold))
		return RangeError(err, errlen, "threshold", "a finite number");
	if (!RealIn(p->validation, 0.0, 0.5))
		return RangeError(err, errlen, "validation", "between 0 and 0.5");
	if (p->patience < 1 || p->patience > FM_MAX_EPOCHS)
		return RangeError(err, errlen, "patience", "between 1 and 100000");
	if (p->threads < 1 || p->threads > FM_MAX_THREADS)
		return RangeError(err, errlen, "threads", "between 1 and 64");
	if (p->solver != FM_SOLVER_SGD && p->solver != FM_SOLVER_ALS &&
		p->solver != FM_SOLVER_MCMC)
		return RangeError(err, errlen, "solver", "\"sgd\", \"als\" or \"mcmc\"");
	if (p->burn_in < 0 || (p->solver == FM_SOLVER_MCMC && p->burn_in >= p->epochs))
		return RangeError(err, errlen, "burn_in", "at least 0 and below epochs");
	if (p->solver == FM_SOLVER_ALS && p->task != FM_TASK_REGRESSION)
	{
		snprintf(err, errlen, "solver \"als\" supports only the regression task");
		return FM_ERR_PARAM;
	}
	return FM_OK;
}
