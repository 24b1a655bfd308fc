/*
 * pool.c
 *	  A tiny fork-join pool of worker threads.
 *
 * The calling thread is worker 0 and takes part in every FmPoolRun; the
 * other workers sleep on a condition variable between runs.  Workers are
 * created with every signal blocked, so signals sent to the process (for a
 * PostgreSQL backend: SIGINT for cancel, SIGALRM for statement_timeout,
 * SIGTERM) are always handled by the calling thread, and workers run only
 * the core's own code: no PostgreSQL function is ever called from them.
 * The caller checks for interrupts between runs, never inside one.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "fm.h"

typedef struct FmPoolData
{
	int			nthreads;
	int			started;		/* workers actually created */
	pthread_t  *threads;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t done;
	uint64_t	generation;		/* bumped by each run */
	int			pending;		/* workers still busy in this run */
	bool		quit;
	FmPoolFn	fn;
	void	   *arg;
} FmPoolData;

typedef struct WorkerArg
{
	FmPool		pool;
	int			id;
} WorkerArg;

static void *
WorkerMain(void *p)
{
	WorkerArg  *wa = p;
	FmPool		pool = wa->pool;
	int			id = wa->id;
	uint64_t	seen = 0;

	free(wa);
	for (;;)
	{
		FmPoolFn	fn;
		void	   *arg;

		pthread_mutex_lock(&pool->lock);
		while (!pool->quit && pool->generation == seen)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->quit)
		{
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		seen = pool->generation;
		fn = pool->fn;
		arg = pool->arg;
		pthread_mutex_unlock(&pool->lock);

		fn(arg, id);

		pthread_mutex_lock(&pool->lock);
		if (--pool->pending == 0)
			pthread_cond_signal(&pool->done);
		pthread_mutex_unlock(&pool->lock);
	}
}

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

/* Runs fn(arg, w) for every worker w, the caller being worker 0; waits. */
void
FmPoolRun(FmPool pool, FmPoolFn fn, void *arg)
{
	if (pool->started > 0)
	{
		pthread_mutex_lock(&pool->lock);
		pool->fn = fn;
		pool->arg = arg;
		pool->pending = pool->started;
		pool->generation++;
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->lock);
	}
	fn(arg, 0);
	if (pool->started > 0)
	{
		pthread_mutex_lock(&pool->lock);
		while (pool->pending > 0)
			pthread_cond_wait(&pool->done, &pool->lock);
		pthread_mutex_unlock(&pool->lock);
	}
}

void
FmPoolFree(FmPool pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->quit = true;
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
