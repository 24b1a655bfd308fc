/*
 * params.c
 *	  Hyperparameter defaults and validation.
 *
 * The defaults converge on MovieLens-shaped data without tuning (see the
 * README's Performance section); the bounds reject values that cannot
 * train (negative rates) or that would take absurd time or memory.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fm.h"

/*
 * The default hyperparameters (SGD's; FmParamsSolverDefaults adapts them
 * to another solver).
 */
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
	p->alpha = 1.0;
	p->unobserved_weight = 1.0;
	p->reg_exponent = 0.0;
	p->log_epsilon = 0.0;
	p->strength_exponent = 0.0;
	p->strength_mean = 1.0;
	p->neighbors = 20;
}

/* implicit ALS's defaults (measured on ml-latest-small: README) */
/*
 * Implicit ALS's defaults, chosen on a validation split of the training
 * rows of ml-latest-small (README, "Recommending from clicks, plays and
 * purchases"): Rendle et al.'s weighting (RecSys 2022) with unobserved
 * pairs at 0.1, regularization scaled by the square root of an entity's
 * pairs plus its share of the unobserved ones, and every row one choice
 * (alpha 0) unless asked otherwise.
 */
#define IMPLICIT_FACTORS 128
#define IMPLICIT_EPOCHS 15
#define IMPLICIT_REG 0.3
#define IMPLICIT_INIT 0.01
#define IMPLICIT_ALPHA 0.0
#define IMPLICIT_UNOBSERVED 0.1
#define IMPLICIT_REG_EXPONENT 0.5
#define IMPLICIT_STRENGTH_EXPONENT 1.5

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
	/* choices are learned by implicit ALS unless a solver is named */
	if (p->task == FM_TASK_IMPLICIT && !(set & FM_SET_SOLVER))
		solver = FM_SOLVER_ALS;
	p->solver = solver;
	if (solver == FM_SOLVER_ITEM_COSINE)
	{
		/* one pass, and no factors (the model keeps one, unused) */
		p->epochs = 1;
		p->factors = 1;
	}
	else if (solver == FM_SOLVER_ALS && p->task == FM_TASK_IMPLICIT)
	{
		if (!(set & FM_SET_FACTORS))
			p->factors = IMPLICIT_FACTORS;
		if (!(set & FM_SET_EPOCHS))
			p->epochs = IMPLICIT_EPOCHS;
		if (!(set & FM_SET_REG_FACTORS))
			p->reg_factors = IMPLICIT_REG;
		if (!(set & FM_SET_INIT_STDEV))
			p->init_stdev = IMPLICIT_INIT;
		if (!(set & FM_SET_ALPHA))
			p->alpha = IMPLICIT_ALPHA;
		if (!(set & FM_SET_UNOBSERVED))
			p->unobserved_weight = IMPLICIT_UNOBSERVED;
		if (!(set & FM_SET_REG_EXPONENT))
			p->reg_exponent = IMPLICIT_REG_EXPONENT;
		if (!(set & FM_SET_STRENGTH_EXP))
			p->strength_exponent = IMPLICIT_STRENGTH_EXPONENT;
	}
	else if (solver == FM_SOLVER_ALS)
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
FmTaskName(FmTask task)
{
	return task == FM_TASK_BINARY ? "binary" :
		(task == FM_TASK_IMPLICIT ? "implicit" : "regression");
}

bool
FmTaskFromName(const char *name, FmTask *task)
{
	if (strcmp(name, "regression") == 0 || strcmp(name, "regressor") == 0)
		*task = FM_TASK_REGRESSION;
	else if (strcmp(name, "binary") == 0 ||
			 strcmp(name, "binary_classifier") == 0)
		*task = FM_TASK_BINARY;
	else if (strcmp(name, "implicit") == 0)
		*task = FM_TASK_IMPLICIT;
	else
		return false;
	return true;
}

#define F(field) offsetof(FmParamsData, field)

/*
 * Every hyperparameter, its SageMaker name where one exists, its type,
 * its place in FmParamsData and its range.  The SQL layer parses options
 * by this table and FmParamsCheck checks ranges by it, so the names, the
 * messages and the limits are written once.
 */
static const FmOptionDef option_defs[] = {
	{"task", "predictor_type", FM_OPT_TASK, F(task), 0, 0, 0},
	{"factors", "num_factors", FM_OPT_INT, F(factors), 1, FM_MAX_FACTORS, FM_SET_FACTORS},
	{"epochs", NULL, FM_OPT_INT, F(epochs), 1, FM_MAX_EPOCHS, FM_SET_EPOCHS},
	{"batch_size", "mini_batch_size", FM_OPT_INT, F(batch_size), 1, FM_MAX_BATCH, 0},
	{"learning_rate", NULL, FM_OPT_REAL, F(learning_rate), 1e-9, 10, 0},
	{"reg_bias", "bias_wd", FM_OPT_REAL, F(reg_bias), 0, FM_MAX_REG, 0},
	{"reg_linear", "linear_wd", FM_OPT_REAL, F(reg_linear), 0, FM_MAX_REG, FM_SET_REG_LINEAR},
	{"reg_factors", "factors_wd", FM_OPT_REAL, F(reg_factors), 0, FM_MAX_REG, FM_SET_REG_FACTORS},
	{"init_stdev", "factors_init_sigma", FM_OPT_REAL, F(init_stdev), 0, 10, FM_SET_INIT_STDEV},
	{"threshold", NULL, FM_OPT_REAL, F(threshold), -INFINITY, INFINITY, 0},
	{"validation", NULL, FM_OPT_REAL, F(validation), 0, 0.5, 0},
	{"patience", NULL, FM_OPT_INT, F(patience), 1, FM_MAX_EPOCHS, 0},
	{"seed", NULL, FM_OPT_INT64, F(seed), 0, 0, 0},
	{"threads", NULL, FM_OPT_INT, F(threads), 1, FM_MAX_THREADS, 0},
	{"store_seen", NULL, FM_OPT_BOOL, F(store_seen), 0, 0, 0},
	{"solver", NULL, FM_OPT_SOLVER, F(solver), 0, 0, FM_SET_SOLVER},
	{"burn_in", NULL, FM_OPT_INT, F(burn_in), 0, FM_MAX_EPOCHS, FM_SET_BURN_IN},
	{"alpha", NULL, FM_OPT_REAL, F(alpha), 0, FM_MAX_REG, FM_SET_ALPHA},
	{"unobserved_weight", NULL, FM_OPT_REAL, F(unobserved_weight), 1e-6, 1, FM_SET_UNOBSERVED},
	{"reg_exponent", NULL, FM_OPT_REAL, F(reg_exponent), 0, 1, FM_SET_REG_EXPONENT},
	{"log_epsilon", NULL, FM_OPT_REAL, F(log_epsilon), 0, FM_MAX_REG, 0},
	{"neighbors", NULL, FM_OPT_INT, F(neighbors), 1, FM_MAX_NEIGHBORS, 0},
	{"strength_exponent", NULL, FM_OPT_REAL, F(strength_exponent), 0, 4, FM_SET_STRENGTH_EXP},
};

#define N_OPTIONS (sizeof(option_defs) / sizeof(option_defs[0]))

/* The option table; *n receives its length. */
const FmOptionDef *
FmOptionDefs(size_t *n)
{
	*n = N_OPTIONS;
	return option_defs;
}

/* The option of that name or SageMaker alias, or NULL. */
const FmOptionDef *
FmOptionFind(const char *name)
{
	for (size_t j = 0; j < N_OPTIONS; j++)
		if (strcmp(option_defs[j].name, name) == 0 ||
			(option_defs[j].alias && strcmp(option_defs[j].alias, name) == 0))
			return &option_defs[j];
	return NULL;
}

/* A limit as people write it: 0, 64, 0.5, 1e-9, 1e6. */
static void
FormatLimit(char *buf, size_t len, double v)
{
	double		e = log10(fabs(v));

	if (v == floor(v) && fabs(v) < 1e5)
		snprintf(buf, len, "%.0f", v);
	else if (v != 0 && e == floor(e))
		snprintf(buf, len, "%s1e%.0f", v < 0 ? "-" : "", e);
	else
		snprintf(buf, len, "%g", v);
}

/* "\"name\" must be ...", from the option's range in the table. */
static FmStatus
RangeError(const FmOptionDef *def, char *err, size_t errlen)
{
	char		lo[32],
				hi[32];

	FormatLimit(lo, sizeof(lo), def->min);
	FormatLimit(hi, sizeof(hi), def->max);
	if (def->kind == FM_OPT_INT)
		snprintf(err, errlen, "\"%s\" must be between %.0f and %.0f", def->name,
				 def->min, def->max);
	else if (isinf(def->min) && isinf(def->max))
		snprintf(err, errlen, "\"%s\" must be a finite number", def->name);
	else
		snprintf(err, errlen, "\"%s\" must be a finite number between %s and %s",
				 def->name, lo, hi);
	return FM_ERR_PARAM;
}

/* Checks every option against its range in the table, then the rules across options. */
FmStatus
FmParamsCheck(const FmParamsData *p, char *err, size_t errlen)
{
	/* a rule across options, checked first for its clearer message */
	if (p->burn_in < 0 || (p->solver == FM_SOLVER_MCMC && p->burn_in >= p->epochs))
	{
		snprintf(err, errlen, "\"burn_in\" must be at least 0 and below epochs");
		return FM_ERR_PARAM;
	}
	for (size_t j = 0; j < N_OPTIONS; j++)
	{
		const FmOptionDef *def = &option_defs[j];
		const char *field = (const char *) p + def->offset;

		if (def->kind == FM_OPT_INT)
		{
			int			v = *(const int *) field;

			if (v < def->min || v > def->max)
				return RangeError(def, err, errlen);
		}
		else if (def->kind == FM_OPT_REAL)
		{
			double		v = *(const double *) field;

			if (!isfinite(v) || v < def->min || v > def->max)
				return RangeError(def, err, errlen);
		}
	}
	if (p->task != FM_TASK_REGRESSION && p->task != FM_TASK_BINARY &&
		p->task != FM_TASK_IMPLICIT)
	{
		snprintf(err, errlen, "\"task\" must be \"regression\", \"binary\" or \"implicit\"");
		return FM_ERR_PARAM;
	}
	if (!FmSolverKnown(p->solver))
	{
		snprintf(err, errlen, "\"solver\" must be %s", FmSolverList());
		return FM_ERR_PARAM;
	}
	if (!FmSolverSupports(p->solver, p->task))
	{
		snprintf(err, errlen, "solver \"%s\" does not train the %s task",
				 FmSolverName(p->solver), FmTaskName(p->task));
		return FM_ERR_PARAM;
	}
	if (p->task == FM_TASK_IMPLICIT && p->validation > 0)
	{
		snprintf(err, errlen, "the implicit task does not hold out a validation set; measure its lists with fm_evaluate");
		return FM_ERR_PARAM;
	}
	return FM_OK;
}

/*
 * The implicit task's confidence of a chosen pair is FmConfidenceBase
 * plus FmConfidenceExtra of each of its rows (duplicate rows add up).
 * With alpha > 0 it is Hu et al.'s: 1 + alpha * strength * weight, or
 * with log_epsilon > 0 1 + alpha * log(1 + strength / log_epsilon) *
 * weight (their scale for counts).  With alpha 0 (the default) it is
 * w0 + (1 - w0) * weight * (strength / mean strength)^strength_exponent,
 * w0 being unobserved_weight: a row of typical strength makes the pair's
 * confidence 1, a weaker one less (never below a pair not chosen), a
 * stronger one more; without a strength column every strength is 1 and
 * every chosen pair's confidence 1.  Training (trainrow.c) and fold-in
 * (features.c) weigh choices by it.
 */
double
FmConfidenceBase(const FmParamsData *p)
{
	return p->alpha > 0 ? 1.0 : p->unobserved_weight;
}

double
FmConfidenceExtra(const FmParamsData *p, double strength, double weight)
{
	double		ratio;

	if (p->alpha > 0)
		return p->alpha * weight *
			(p->log_epsilon > 0 ? log1p(strength / p->log_epsilon) : strength);
	if (p->strength_exponent == 0.0)
		ratio = 1.0;
	else if (p->strength_mean > 0)
		ratio = pow(strength / p->strength_mean, p->strength_exponent);
	else
		ratio = 0.0;
	return (1.0 - p->unobserved_weight) * weight * ratio;
}

/*
 * The strength of a choice given without one (a session's item without a
 * rating): 1 for Hu et al.'s confidence, as a row without a strength
 * column reads; the training rows' mean otherwise, a typical choice.
 */
double
FmTypicalStrength(const FmParamsData *p)
{
	return p->alpha > 0 ? 1.0 : p->strength_mean;
}

/*
 * The implicit task's regularization of an entity with `pairs` chosen
 * pairs against `others` entities on the other side: reg_factors scaled
 * by (pairs + unobserved_weight x others)^reg_exponent (Rendle et al.,
 * RecSys 2022), in training and in fold-in alike.
 */
double
FmImplicitReg(const FmParamsData *p, double pairs, double others)
{
	return p->reg_factors * pow(pairs + p->unobserved_weight * others, p->reg_exponent);
}
