"""Entry point. ``python app.py`` prepares the database and serves the site;
``gunicorn app:app`` and ``flask --app app ...`` use the ``app`` object."""

from bpt311 import create_app

app = create_app()


def main() -> None:
    from bpt311.cli import prepare_database
    from bpt311.jobs.loop import start_background_worker

    with app.app_context():
        prepare_database()
    if app.config["ENV_NAME"] != "production":
        start_background_worker(app)
    print(f" * bpt311 is serving on http://{app.config['HOST']}:{app.config['PORT']}/", flush=True)
    app.run(host=app.config["HOST"], port=app.config["PORT"], threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
