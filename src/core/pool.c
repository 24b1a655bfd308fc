/*
 * pool.c
 *	  A tiny fork-join pool of worker threads.
 *
 * The calling thread is worker 0 and takes part in every FmPoolRun; the
 * other workers wait for the next run.  Workers are created with every
 * signal blocked, so signals sent to the process (for a PostgreSQL
 * backend: SIGINT for cancel, SIGALRM for statement_timeout, SIGTERM) are
 * always handled by the calling thread, and workers run only the core's
 * own code: no PostgreSQL function is ever called from them.  The caller
 * checks for interrupts between runs, never inside one.
 *
 * Runs are short (a few milliseconds) and follow each other closely, so
 * waiting spins for a while before sleeping on a condition variable:
 * waking a sleeping thread costs tens of microseconds to milliseconds on a
 * virtual machine, which at ~30 runs per epoch doubled the epoch time.
 */
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fm.h"

#define SPIN_ROUNDS 20000		/* about 100 microseconds of polling */

typedef struct FmPoolData
{
	int			nthreads;
	int			started;		/* workers actually created */
	pthread_t  *threads;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t done;
	_Atomic uint64_t generation;	/* bumped by each run */
	_Atomic int pending;		/* workers still busy in this run */
	_Atomic bool quit;
	FmPoolFn	fn;
	void	   *arg;
} FmPoolData;

typedef struct WorkerArg
{
	FmPool		pool;
	int			id;
	fenv_t		env;			/* the creator's floating-point environment */
} WorkerArg;

static inline void
CpuRelax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * A worker's loop: spin briefly, then sleep, until the next job or
 * shutdown; runs no PostgreSQL code and has every signal blocked.
 */
static void *
WorkerMain(void *p)
{
	WorkerArg  *wa = p;
	FmPool		pool = wa->pool;
	int			id = wa->id;
	uint64_t	seen = 0;

	/*
	 * Compute exactly as the calling thread does (rounding, flush-to-zero),
	 * so results do not depend on which thread did the work.
	 */
	fesetenv(&wa->env);
	free(wa);
	for (;;)
	{
		uint64_t	gen = atomic_load_explicit(&pool->generation, memory_order_acquire);

		for (int s = 0; gen == seen && s < SPIN_ROUNDS; s++)
		{
			CpuRelax();
			gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
		}
		if (gen == seen)
		{
			pthread_mutex_lock(&pool->lock);
			while (!atomic_load(&pool->quit) &&
				   (gen = atomic_load(&pool->generation)) == seen)
				pthread_cond_wait(&pool->wake, &pool->lock);
			pthread_mutex_unlock(&pool->lock);
		}
		if (atomic_load(&pool->quit))
			return NULL;
		seen = gen;

		pool->fn(pool->arg, id);

		if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1)
		{
			pthread_mutex_lock(&pool->lock);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->lock);
		}
	}
}

/*
 * Starts nthreads - 1 workers with all signals blocked (the caller is
 * worker 0).
 */
FmStatus
FmPoolCreate(int nthreads, FmPool *out)
{
	FmPool		pool;
	sigset_t	all;
	sigset_t	old;
	FmStatus	st = FM_OK;

	*out = NULL;
	pool = calloc(1, sizeof(FmPoolData));
	if (pool == NULL)
		return FM_ERR_NOMEM;
	pool->nthreads = nthreads < 1 ? 1 : nthreads;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	atomic_init(&pool->generation, 0);
	atomic_init(&pool->pending, 0);
	atomic_init(&pool->quit, false);
	if (pool->nthreads > 1)
	{
		pool->threads = calloc(pool->nthreads - 1, sizeof(pthread_t));
		if (pool->threads == NULL)
		{
			FmPoolFree(pool);
			return FM_ERR_NOMEM;
		}
		/* workers inherit the mask in force when they are created */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (int w = 1; w < pool->nthreads; w++)
		{
			WorkerArg  *wa = malloc(sizeof(WorkerArg));

			if (wa == NULL)
			{
				st = FM_ERR_NOMEM;
				break;
			}
			wa->pool = pool;
			wa->id = w;
			fegetenv(&wa->env);
			if (pthread_create(&pool->threads[w - 1], NULL, WorkerMain, wa) != 0)
			{
				free(wa);
				st = FM_ERR_THREAD;
				break;
			}
			pool->started++;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (st != FM_OK)
	{
		FmPoolFree(pool);
		return st;
	}
	*out = pool;
	return FM_OK;
}

/*
 * Starts fn(arg, w) on every worker w but the caller (w >= 1) and returns
 * at once: the caller may do other work (its own share, or PostgreSQL
 * work on its own thread) and must then call FmPoolWait before the next
 * start and before anything fn uses goes away.
 */
void
FmPoolStart(FmPool pool, FmPoolFn fn, void *arg)
{
	if (pool->started == 0)
		return;
	pool->fn = fn;
	pool->arg = arg;
	atomic_store_explicit(&pool->pending, pool->started, memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
	pthread_mutex_lock(&pool->lock);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

/* Waits until the workers of the last FmPoolStart are done. */
void
FmPoolWait(FmPool pool)
{
	if (pool->started == 0)
		return;
	for (int s = 0; s < SPIN_ROUNDS &&
		 atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; s++)
		CpuRelax();
	if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
	{
		pthread_mutex_lock(&pool->lock);
		while (atomic_load(&pool->pending) > 0)
			pthread_cond_wait(&pool->done, &pool->lock);
		pthread_mutex_unlock(&pool->lock);
	}
}

/* Runs fn(arg, w) for every worker w, the caller being worker 0; waits. */
void
FmPoolRun(FmPool pool, FmPoolFn fn, void *arg)
{
	FmPoolStart(pool, fn, arg);
	fn(arg, 0);
	FmPoolWait(pool);
}

/* Stops and joins the workers. */
void
FmPoolFree(FmPool pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	atomic_store(&pool->quit, true);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (int w = 0; w < pool->started; w++)
		pthread_join(pool->threads[w], NULL);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->done);
	free(pool->threads);
	free(pool);
}
