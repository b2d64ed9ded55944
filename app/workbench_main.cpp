// ptune-workbench: the desktop application. Options: --db FILE (the run store; default: the last one opened,
// else $PTUNE_DB or ~/.local/share/ptune/runs.sqlite), --spec FILE (an experiment spec to load into the form),
// --run (start it at once).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QMessageBox>
#include <QSettings>
#include <QTimer>

#include "experiments/runner.h"
#include "ui/main_window.h"
#include "ui/setup_panel.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("ptune");
    QApplication::setApplicationName("ptune-workbench");
    QApplication::setApplicationDisplayName("ptune workbench");
    QApplication::setApplicationVersion(PTUNE_VERSION);
    QApplication::setDesktopFileName("ptune-workbench");
    QApplication::setWindowIcon(QIcon(":/ptune/ptune.svg"));

    QCommandLineParser cli;
    cli.setApplicationDescription("Deep prompt tuning (P-Tuning v2) workbench");
    cli.addHelpOption();
    cli.addVersionOption();
    QCommandLineOption db({"d", "db"}, "The run database (SQLite file).", "FILE");
    QCommandLineOption spec({"s", "spec"}, "An experiment spec (JSON) to load into the setup form.", "FILE");
    QCommandLineOption run({"r", "run"}, "Start the experiment in the form at once.");
    cli.addOptions({db, spec, run});
    cli.process(app);

    QString db_path = cli.value(db);
    if (db_path.isEmpty()) db_path = QSettings().value("db/path").toString();
    if (db_path.isEmpty()) db_path = QString::fromStdString(ptune::default_db_path());
    QDir().mkpath(QFileInfo(db_path).absolutePath());

    std::unique_ptr<ptune::ui::MainWindow> w;
    try {
        w = std::make_unique<ptune::ui::MainWindow>(db_path);
    } catch (const std::exception& e) {
        // The remembered database is unusable: say why and fall back to the default one, losing nothing.
        QMessageBox::warning(nullptr, "ptune workbench", QString("Cannot open %1:\n%2\n\nOpening the default database instead.")
                                                             .arg(db_path, QString::fromStdString(e.what())));
        db_path = QString::fromStdString(ptune::default_db_path());
        QDir().mkpath(QFileInfo(db_path).absolutePath());
        try {
            w = std::make_unique<ptune::ui::MainWindow>(db_path);
        } catch (const std::exception& e2) {
            QMessageBox::critical(nullptr, "ptune workbench", QString::fromStdString(e2.what()));
            return 1;
        }
    }
    if (cli.isSet(spec)) {
        try {
            w->setup()->set_spec(ptune::ExperimentSpec::load(cli.value(spec).toStdString()));
        } catch (const std::exception& e) {
            QMessageBox::warning(w.get(), "Experiment spec", QString::fromStdString(e.what()));
        }
    }
    w->show();
    if (cli.isSet(run)) QTimer::singleShot(0, w.get(), [&w] { w->start_run(); });
    return app.exec();
}
